// `npm ci` ends with one line when the optional Azure Functions Core Tools could not be installed (npm drops an
// optional package whose install step failed without a word), and with nothing when its binary is there.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const { coreToolsNote } = createRequire(__filename)(
  resolve(__dirname, '../../../scripts/postinstall.js'),
) as {
  coreToolsNote(root: string): string | undefined;
};
const root = mkdtempSync(join(tmpdir(), 'gemflow-postinstall-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the postinstall note about Core Tools', () => {
  it('says in one line that it is missing, and that nothing but func start needs it', () => {
    const note = coreToolsNote(root);
    expect(note).toMatch(/^gem-flow: Azure Functions Core Tools \(optional\) is not installed \(.+\); /);
    expect(note).toContain('npm start and npm test do not need it');
    expect(note).not.toContain('\n');
  });

  it('names a package left without its binary', () => {
    mkdirSync(join(root, 'node_modules', 'azure-functions-core-tools', 'bin'), { recursive: true });
    expect(coreToolsNote(root)).toContain('its func binary was not downloaded');
  });

  it('says nothing when the func binary is installed', () => {
    writeFileSync(join(root, 'node_modules', 'azure-functions-core-tools', 'bin', 'func'), '');
    expect(coreToolsNote(root)).toBeUndefined();
  });

  it('is the install hook of package.json', async () => {
    const pkg = (await import('../../../package.json', { with: { type: 'json' } })).default as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.postinstall).toBe('node scripts/postinstall.js');
  });
});
