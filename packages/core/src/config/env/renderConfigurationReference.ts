import { ENV_SECTIONS, type EnvSection } from './sections.js';
import type { Variable } from './variable.js';

/** The command that writes docs/configuration.md; the doc test names it when the committed file is stale. */
export const CONFIGURATION_REFERENCE_COMMAND = 'npm run docs:config';

/** A table cell: pipes and line breaks would end the cell, `<` would open an HTML tag. */
const cell = (value: string): string => value.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('<', '\\<').replaceAll('\n', ' ');

const defaultOf = (variable: Variable): string => {
  if (variable.kind === 'defaulted') return `\`${String(variable.default)}\``;
  return cell(variable.defaultText ?? 'unset');
};

const sectionTable = (section: EnvSection): string[] => [
  `## ${section.title}`,
  '',
  section.about,
  '',
  '| Variable | Type | Default | Read by | Meaning |',
  '| --- | --- | --- | --- | --- |',
  ...Object.entries(section.variables).map(
    ([name, variable]) => `| \`${name}\` | ${cell(variable.type)} | ${defaultOf(variable)} | ${variable.readBy.join(', ')} | ${cell(variable.doc)} |`,
  ),
  '',
];

/** docs/configuration.md, from the definitions of every variable (ENV_SECTIONS). */
export const renderConfigurationReference = (): string =>
  [
    '# Configuration reference',
    '',
    `<!-- Generated from packages/core/src/config/env/ by \`${CONFIGURATION_REFERENCE_COMMAND}\`; edit the definitions there, not this file. -->`,
    '',
    'Every setting is an environment variable, defined once in `packages/core/src/config/env/` (its type, default,',
    'the processes that read it and what it does); this page is generated from those definitions. A blank value counts',
    'as unset. A value a process refuses stops it at startup with exit status 78 (EX_CONFIG) and a message naming the',
    'variable.',
    '',
    'Read by: **api** (`apps/api/dist/main.js`), **worker** (`apps/worker/dist/main.js`), **migrate** (`apps/cli/dist/migrate.js`,',
    '`npm run migrate`, `npx valhalla migrate`), **dev** (`npm run dev`), **cli** (`npx valhalla`), **render** (the platform).',
    '',
    ...ENV_SECTIONS.flatMap(sectionTable),
  ].join('\n');
