import { randomInt } from 'node:crypto';
import { isPortFree } from '../../../apps/cli/src/dev/freePort.js';

/**
 * Below Linux's default ephemeral range (32768-60999): a port the kernel never hands to an outgoing connection, so a
 * process (or proxy, or Redis) of the cluster gets its port back when it is started again after a fault. A port the
 * kernel picked (port 0) is in that range, and any connection made while the process was down may take it.
 */
const LOW = 20_000;
const HIGH = 32_000;

/** A free port in [20000, 32000) not in `taken` (and then added to it). */
export const pickStablePort = async (taken: Set<number>): Promise<number> => {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = randomInt(LOW, HIGH);
    if (!taken.has(port) && (await isPortFree(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`);
};
