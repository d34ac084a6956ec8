/**
 * The process's environment, for an entrypoint to hand to the parsers of this module (or, copied, to a child process
 * it starts). The one place that reads `process.env` (a lint rule keeps it so): a variable is read through its
 * definition in one of the sections, never picked from here by name.
 */
export const processEnvironment = (): Readonly<Record<string, string | undefined>> => process.env;
