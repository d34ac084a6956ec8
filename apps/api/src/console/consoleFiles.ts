import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';

/** One built file of the console, held in memory (the whole build is ~50 kB). */
export type ConsoleFile = { body: Buffer; contentType: string; etag: string; immutable: boolean };

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : entry.isFile() ? [path] : [];
  });

/**
 * Reads the console's built files (apps/console/dist) into a map keyed by URL path below /console/ ('' is
 * index.html). Files under assets/ carry a content hash in their name (Vite) and are immutable; index.html is
 * revalidated on every load so a deploy is picked up at once. Returns null when the console is not built.
 */
export const loadConsoleFiles = (dir: string): ReadonlyMap<string, ConsoleFile> | null => {
  try {
    if (!statSync(join(dir, 'index.html')).isFile()) return null;
  } catch {
    return null;
  }
  const files = new Map<string, ConsoleFile>();
  for (const path of listFiles(dir)) {
    const contentType = CONTENT_TYPES[extname(path).toLowerCase()];
    // Source maps and anything without a known type are not served.
    if (contentType === undefined) continue;
    const body = readFileSync(path);
    const key = relative(dir, path).split(sep).join('/');
    files.set(key === 'index.html' ? '' : key, {
      body,
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      immutable: key.startsWith('assets/'),
    });
  }
  return files;
};
