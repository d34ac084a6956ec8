import { afterAll, afterEach, expect } from 'vitest';

/**
 * Leak guard: every pool, worker, queue, server or child process a test opens is registered here. A resource opened
 * inside a test must be closed by the end of that test; one opened in beforeAll must be closed by afterAll. Anything
 * still open is closed (so later tests are not disturbed) and the test or file fails naming it.
 */
export type TrackedResource = { description: string; isOpen: () => boolean; close: () => Promise<unknown> };

const testScoped: TrackedResource[] = [];
const fileScoped: TrackedResource[] = [];

const insideTest = () => expect.getState().currentTestName !== undefined;

export const track = <T>(value: T, resource: Omit<TrackedResource, 'isOpen' | 'close'> & Partial<TrackedResource> & {
  isOpen: () => boolean;
  close: () => Promise<unknown>;
}): T => {
  (insideTest() ? testScoped : fileScoped).push(resource);
  return value;
};

const sweep = async (list: TrackedResource[]): Promise<string[]> => {
  const leaked = list.filter((r) => r.isOpen());
  await Promise.allSettled(leaked.map((r) => r.close()));
  list.length = 0;
  return leaked.map((r) => r.description);
};

/** Called once per file from the setup file. */
export const installLeakGuard = () => {
  afterEach(async () => {
    const leaked = await sweep(testScoped);
    if (leaked.length > 0) throw new Error(`test leaked: ${leaked.join(', ')}`);
  });
  afterAll(async () => {
    const leaked = await sweep(fileScoped);
    if (leaked.length > 0) throw new Error(`test file leaked: ${leaked.join(', ')}`);
  });
};
