// gem-flow's argument parsing: commands, options and their checks, and the exit codes of usage errors. Every
// usage error is found before a target is resolved or anything is sent (a stack.json that does not exist would
// otherwise turn it into a connection error, exit 3).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../cli/errors.js';
import { APP_VERSION } from '../../../shared/version.js';
import { cli } from './io.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-cli-args-'));
const file = join(dir, 'roads.parquet');
writeFileSync(file, 'not parquet, never read by these tests');
const noStack = ['--stack', join(dir, 'no-such', 'stack.json')];

describe('gem-flow arguments', () => {
  it('--help lists every command and exits 0; --version prints the app version', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(EXIT.ok);
    for (const command of ['match', 'status', 'list', 'outbox', 'cancel', 'validate']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    const version = await cli(['--version']);
    expect(version).toMatchObject({ code: EXIT.ok, stdout: `${APP_VERSION}\n` });
  });

  it('no command prints the help and exits with the usage code', async () => {
    const run = await cli([]);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stdout + run.stderr).toContain('Usage: gem-flow');
  });

  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['match'], /missing required argument 'file'/],
    [['match', file, '--job-type', 'FAST'], /Allowed choices are ROAD_MATCHING, LANE_LEVEL_MATCHING/],
    [['match', file, '--wait', '--interval', '0'], /--interval.*must be a number of seconds/],
    [['list', '--status', 'Running,Bogus'], /--status.*comma-separated list of Pending, Running/],
    [['list', '--top', '500'], /--top.*whole number from 1 to 100/],
    [['status', '--frobnicate'], /unknown option '--frobnicate'/],
  ])('%j is a usage error: %s', async (args, message) => {
    const run = await cli([...args, ...noStack]);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toMatch(message);
    expect(run.fetched).toEqual([]);
  });

  it('refuses options the inbox would reject with the API schema reason, before reaching any stack', async () => {
    const run = await cli(['match', file, '--overture-release', '2026-1', ...noStack]);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toContain('overtureRelease must look like 2026-01-21.0 (YYYY-MM-DD.N)');
    expect(run.stderr).toContain('what to do:');
  });

  it('refuses a blob name with a ".." segment, and a file that does not exist', async () => {
    const name = await cli(['match', file, '--name', '../roads.parquet', ...noStack]);
    expect(name.code).toBe(EXIT.usage);
    expect(name.stderr).toContain(
      'blob name (--name) must be a blob name without a leading "/" or "." / ".." segments',
    );
    const missing = await cli(['match', join(dir, 'missing.parquet'), ...noStack]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain('missing.parquet is not a readable file');
  });

  it('takes global options after the command, and --json turns an error into a JSON document', async () => {
    const run = await cli(['status', ...noStack, '--json']);
    expect(run.code).toBe(EXIT.connection);
    const document = JSON.parse(run.stdout.trim());
    expect(document).toEqual({
      event: 'error',
      error: {
        code: 'StackNotFound',
        message: `No local stack is described at ${noStack[1]}.`,
        remedy: expect.stringContaining('npm start'),
        exitCode: EXIT.connection,
      },
    });
    expect(run.stderr).toContain(`error: No local stack is described at ${noStack[1]}.`);
  });
});
