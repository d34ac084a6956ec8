import { fileURLToPath } from 'node:url';

/**
 * The repository's migrations/ folder, found from this file: packages/core/{src,dist}/migrator/ sits three levels
 * below the repository root, in the source tree, the built tree and the Docker image alike.
 */
export const defaultMigrationsDir = (): string => fileURLToPath(new URL('../../../../migrations/', import.meta.url));
