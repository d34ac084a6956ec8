import { describe, expect, it } from 'vitest';
import { keyValues, table } from '../../apps/cli/src/valhalla/format.js';

describe('CLI text output', () => {
  it('shows a reason with line breaks on one line, so it cannot draw a fake row', () => {
    const forged = 'routine\n30  2026-12-01T08:10:00.000Z  alice  kill_switch.release  applied';
    const lines = table([{ id: 29, reason: forged }], ['id', 'reason']).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('routine\\n30  2026-12-01');
  });

  it('escapes tabs, other control characters and bidirectional controls in key/value output', () => {
    const printed = keyValues([['reason', 'drill\nlive  true\t\u001b[2J\u202eevil']]);
    expect(printed.split('\n')).toHaveLength(1);
    expect(printed).toBe('reason  drill\\nlive  true\\t\\u001b[2J\\u202eevil');
  });
});
