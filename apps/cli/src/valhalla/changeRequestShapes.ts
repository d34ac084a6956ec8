/** Argument shapes of the four-eyes commands; no imports, so validateArgs can spread them without an import cycle. */
/** The four-eyes commands: `requests`, `approve <id>`, `reject <id>`, `cancel <id>`. */
export const CHANGE_REQUEST_COMMANDS = ['requests', 'approve', 'reject', 'cancel'] as const;
export type ChangeRequestCommand = (typeof CHANGE_REQUEST_COMMANDS)[number];

/** Their argument shapes, merged into the CLI's COMMAND_SHAPES. */
export const CHANGE_REQUEST_SHAPES = {
  requests: { positional: 1, flags: ['--status', '--limit'] },
  approve: { positional: 2, flags: ['--reason'] },
  reject: { positional: 2, flags: ['--reason'] },
  cancel: { positional: 2, flags: ['--reason'] },
} as const satisfies Record<ChangeRequestCommand, { positional: number; flags: readonly string[] }>;

