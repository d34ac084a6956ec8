import { ConfigError } from '../../errors/index.js';

/** EX_CONFIG (sysexits.h): what every process exits with when its configuration is refused. */
export const CONFIG_ERROR_EXIT_CODE = 78;

/**
 * Entrypoint helper: runs a parser of this module, or prints its ConfigError (naming each variable) after the
 * process's name and exits with status 78. Only entrypoints call it; everything below them takes parsed options.
 */
export const exitOnConfigError = <T>(processName: string, parse: () => T): T => {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${processName}: ${error.message}\n`);
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    throw error;
  }
};
