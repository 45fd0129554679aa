/**
 * The README's settings table, generated from `settingDefinitions`: one row per setting (name, default, secret,
 * meaning), columns padded as the rest of the README's tables. config.test.ts fails when the README's table
 * differs, and rewrites it when run with UPDATE_README=1.
 */
import type { SettingDefinition } from '../../shared/config.js';

const HEADER = ['Setting', 'Default', 'Secret', 'Meaning'];

function cells(definition: SettingDefinition): string[] {
  const meaning = definition.setByPlatform
    ? `${definition.description} Set by the platform.`
    : definition.description;
  return [
    `\`${definition.name}\``,
    definition.default === undefined ? '' : `\`${definition.default}\``,
    definition.secret ? 'yes' : '',
    meaning.replaceAll('|', '\\|'),
  ];
}

export function settingsTable(definitions: readonly SettingDefinition[]): string {
  const rows = definitions.map(cells);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(HEADER), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The table under `## Settings` in the README: its header row through its last row. */
export function readmeSettingsTable(readme: string): { start: number; end: number; table: string } {
  const section = readme.indexOf('\n## Settings\n');
  const start = readme.indexOf('\n| Setting ', section) + 1;
  if (section === -1 || start === 0) throw new Error('README: no settings table under "## Settings"');
  let end = start;
  while (end < readme.length && readme[end] === '|') end = readme.indexOf('\n', end) + 1 || readme.length;
  return { start, end, table: readme.slice(start, end).trimEnd() };
}
