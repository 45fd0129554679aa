// The `gem-flow` command line end to end, as a user runs it: the compiled bin in a child process with no
// inherited trust or keys (it finds the stack, its key and its CA through stack.json alone), against an app of
// its own at time scale 600. `match FILE --wait --json` prints JSON lines that advance through the phases and
// end with the summary and the downloaded outputs, byte for byte the outbox's; on a pseudo-terminal the same
// command draws the progress bar; a wrong or stale key is refused with a message naming the key's source and
// where the right key is, and never the key; `npx gem-flow` runs the project's own bin on Node 22.
//
// GEM jobs here run at least 25 virtual minutes (2.5 s of real time), so a follower polling every 0.25 s sees the
// job queued, running and done.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHASE_STEPS } from '../../../cli/progress.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { APP_VERSION } from '../../../shared/version.js';
import { matchInstanceIdForBlob } from '../../../shared/workflow/ids.js';
import { nameKeyFor } from '../../../shared/workflow/outboxNames.js';
import { getMatch, readOutbox, readOutboxJson, startApp, type TestApp } from '../harness.js';

const repoRoot = resolve(__dirname, '../../..');
const bin = join(repoRoot, 'dist', 'cli', 'main.js');

let app: TestApp;
let work: string;
let stackFile: string;

beforeAll(async () => {
  app = await startApp({
    name: 'cli',
    writeStackJson: true,
    // Any free port but the default one, so nothing can work by assuming 7071.
    port: 0,
    // A few roads at GEM's documented throughput take seconds: the 25-minute floor sets the run's length.
    jobDurations: { queuedMs: 5 * 60_000, minRunningMs: 25 * 60_000 },
  });
  stackFile = join(app.dir, 'stack.json');
  work = mkdtempSync(join(tmpdir(), 'gemflow-cli-e2e-'));
});

afterAll(async () => {
  await app?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The compiled bin on this Node, in `work`, with PATH only: no NODE_EXTRA_CA_CERTS, no GEMFLOW_* variables. */
function gemFlow(args: string[], timeoutMs = 50_000): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: work, env: { PATH: process.env.PATH ?? '' }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function sample(name: string, rows: number, seed: number): string {
  const file = join(work, name);
  writeFileSync(file, roadMatchingSample('valid', { rows, seed }));
  return file;
}

describe('gem-flow match --wait --json', () => {
  it('uploads, follows the match through its phases and ends with the summary and the downloaded outputs', async () => {
    const file = sample('roads.parquet', 120, 7);
    const output = join(work, 'out');
    const run = await gemFlow([
      '--stack',
      stackFile,
      '--json',
      'match',
      file,
      '--wait',
      '--interval',
      '0.25',
      '-o',
      output,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const events = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));

    const uploaded = events[0];
    expect(uploaded).toMatchObject({
      event: 'uploaded',
      container: 'inbox',
      name: 'roads.parquet',
      size: readFileSync(file).byteLength,
    });
    expect(uploaded.matchId).toBe(matchInstanceIdForBlob('inbox', 'roads.parquet', uploaded.etag));

    const progress = events.filter((e) => e.event === 'progress');
    const order = progress.map((e) =>
      e.phase === 'completed' ? PHASE_STEPS.length : PHASE_STEPS.indexOf(e.phase),
    );
    expect(order.every((step, i) => step >= -1 && (i === 0 || step >= order[i - 1]!))).toBe(true);
    expect(progress.map((e) => e.phase)).toContain('monitoring');
    expect(new Set(progress.map((e) => e.gemStatus))).toContain('IN_PROGRESS');
    const percents = progress.map((e) => e.percent);
    expect(percents.every((p, i) => i === 0 || p >= percents[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ phase: 'completed', percent: 100, terminal: true });
    expect(progress.some((e) => e.phase === 'monitoring' && typeof e.etaSeconds === 'number')).toBe(true);

    const result = events.at(-1);
    const status = await getMatch(app, uploaded.matchId);
    expect(result).toMatchObject({
      event: 'result',
      id: uploaded.matchId,
      outcome: 'succeeded',
      exitCode: 0,
      jobId: status!.jobId,
    });
    const summaryBlob = status!.outputs.summary!.blob;
    const summary = await readOutboxJson(app, summaryBlob);
    expect(result.summary).toEqual(summary);
    expect(result.summary.statistics.num_roads_processed).toBe(120);
    expect(result.outputDir).toBe(join(output, nameKeyFor('inbox', 'roads.parquet'), uploaded.matchId));
    const blobs = result.downloads.map((d: { blob: string }) => d.blob).sort();
    // The enriched output (GeoParquet for GEM's own Parquet) is saved with the rest.
    expect(blobs).toEqual([status!.outputs.results!.blob, summaryBlob, status!.outputs.matched!.blob].sort());
    for (const download of result.downloads as { blob: string; file: string; bytes: number }[]) {
      const saved = readFileSync(download.file);
      expect(saved.equals((await readOutbox(app, download.blob))!)).toBe(true);
      expect(saved.byteLength).toBe(download.bytes);
    }
  });

  it('on a pseudo-terminal, draws the progress bar through the phases and prints the summary table', async (context) => {
    const script = ['/usr/bin/script', '/bin/script'].find((path) => existsSync(path));
    if (!script) {
      console.warn('[cli e2e] util-linux `script` is not installed: the pseudo-terminal run is skipped.');
      context.skip();
    }
    const file = sample('tty roads.parquet', 80, 9);
    const command = [
      process.execPath,
      bin,
      '--stack',
      stackFile,
      'match',
      file,
      '--wait',
      '--interval',
      '0.25',
      '--no-download',
    ]
      .map((part) => `'${part.replaceAll("'", "'\\''")}'`)
      .join(' ');
    // Asynchronously: the stack's stand-ins run in this process and must keep answering meanwhile.
    const typescript = await new Promise<string>((resolvePromise, reject) => {
      execFile(
        script!,
        ['-qfec', `stty cols 200; ${command}`, '/dev/null'],
        { cwd: work, env: { PATH: process.env.PATH ?? '', TERM: 'xterm' }, timeout: 50_000 },
        (error, stdout) => (error ? reject(error) : resolvePromise(String(stdout))),
      );
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal control sequences are removed
    const screen = typescript.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]|\r/g, '');
    expect(screen).toMatch(/=+-+ +\d+% \| monitoring \(4\/6\) \| GEM (REQUESTED|IN_PROGRESS) \(job \d+\)/);
    expect(screen).toMatch(/✓ monitoring \(\d+s\)/);
    expect(screen).toContain('100% | completed | GEM SUCCESS');
    expect(screen).toMatch(/│ roads processed\s+│\s+80 │/);
  });
});

describe('a refused function key', () => {
  it('--key that is wrong: says it came from --key and where the stack keeps the right one, without printing either', async () => {
    const run = await gemFlow(['--stack', stackFile, '--key', 'not-the-function-key', 'status']);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      `error: The app at ${app.baseUrl} refused the function key (401); the key came from --key.\n` +
        `what to do: The local stack's key is functionKey in ${stackFile}: drop --key to use it.\n`,
    );
    expect(run.stdout).toBe('');
  });

  it('a stale stack.json: names that file and says to restart npm start; --json carries the same as a document', async () => {
    const stale = join(work, 'stale-stack.json');
    copyFileSync(stackFile, stale);
    writeFileSync(
      stale,
      JSON.stringify({ ...JSON.parse(readFileSync(stale, 'utf8')), functionKey: 'key-of-an-earlier-run' }),
    );
    const run = await gemFlow(['--stack', stale, 'list', '--json']);
    expect(run.code).toBe(3);
    const document = JSON.parse(run.stdout);
    expect(document.error).toMatchObject({ code: 'FunctionKeyRefused', exitCode: 3 });
    expect(document.error.message).toContain(`the key came from functionKey in ${stale}`);
    expect(document.error.remedy).toContain('restart `npm start`');
    for (const text of [run.stdout, run.stderr]) {
      expect(text).not.toContain('key-of-an-earlier-run');
      expect(text).not.toContain(app.keys.functionKey);
    }
  });
});

/** The first ```bash block of a README section. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n## ${heading}\n`));
  const block = /```bash\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README.md has no \`\`\`bash block under "## ${heading}"`);
  return block[1]!;
}

const readmeCommandLineBlock = () => readmeBlock('Command line');

/**
 * A README block as bash runs it here: `npm run X --` is the script package.json names (run with absolute
 * paths, as npm would from the repository), `npx gem-flow` the built bin; `.local` in the block's folder is
 * the test stack's directory, as `.local` is the user's in the repository.
 */
async function runReadmeBlock(text: string): Promise<Run & { dir: string }> {
  const scripts = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts as Record<
    string,
    string
  >;
  let block = text.replaceAll('npx gem-flow', '"$NODE" "$BIN"');
  for (const name of ['sample', 'upload', 'outbox']) {
    const script = scripts[name]!.replace(
      /^node (\S+)/,
      (_all, file: string) => `"$NODE" "${join(repoRoot, file)}"`,
    );
    block = block
      .replaceAll(`npm run ${name} --`, script)
      .replaceAll(new RegExp(`npm run ${name}(?= |$)`, 'gm'), script);
  }
  const dir = mkdtempSync(join(work, 'readme-'));
  symlinkSync(app.dir, join(dir, '.local'));
  return new Promise((resolvePromise) => {
    execFile(
      'bash',
      ['--norc', '-euo', 'pipefail', '-c', block],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '',
          NODE: process.execPath,
          BIN: bin,
          GEMFLOW_STACK: stackFile,
          GEMFLOW_LOCAL_DIR: app.dir,
        },
        timeout: 50_000,
      },
      (error, stdout, stderr) =>
        resolvePromise({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
          dir,
        }),
    );
  });
}

describe("the README's command-line walk-through", () => {
  it('runs as written, in order, against a stack whose port is not 7071', async () => {
    expect(new URL(app.baseUrl).port).not.toBe('7071');
    const run = await runReadmeBlock(readmeCommandLineBlock());
    const { dir } = run;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is a valid ROAD_MATCHING input: 500 rows.');
    expect(run.stdout).toMatch(/Match match-[0-9a-f]{32} completed \(GEM job \d+ SUCCESS, \d+ polls\)\./);
    expect(run.stdout).toMatch(/^roads processed\t500$/m);
    expect(run.stdout).toMatch(/"kind": "gem-flow.match-summary"/);
    expect(readFileSync(join(dir, 'samples', 'roads.results.parquet')).byteLength).toBeGreaterThan(0);
    const started = JSON.parse(readFileSync(join(dir, 'samples', 'started.json'), 'utf8'));
    expect(started).toMatchObject({
      event: 'uploaded',
      name: 'big.parquet',
      status: { runtimeStatus: 'Running' },
    });
    expect(run.stdout).toContain(`Cancelled ${started.matchId}.`);
    expect((await getMatch(app, started.matchId))?.runtimeStatus).toBe('Terminated');
  });
});

describe("the README's local walk-through", () => {
  it('runs as written, in order: URLs and keys from .local/stack.json, never a port', async () => {
    const block = readmeBlock('Try it locally');
    expect(block).not.toMatch(/localhost:\d|127\.0\.0\.1:\d/);
    const run = await runReadmeBlock(block);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/"matches":\[\{"id":"match-[0-9a-f]{32}"/);
    expect(run.stdout).toMatch(/Match match-[0-9a-f]{32} completed \(GEM job \d+ SUCCESS, \d+ polls\)\./);
    expect(run.stdout).toMatch(/"kind": "gem-flow.match-summary"/);
    expect(readFileSync(join(run.dir, 'samples', 'roads.results.parquet')).byteLength).toBeGreaterThan(0);
  });
});

describe('npx gem-flow', () => {
  it('runs the project bin on the project Node 22 (the bin refuses an older Node), whatever node is on PATH', async () => {
    const run = await new Promise<Run>((resolvePromise) => {
      execFile(
        'npx',
        ['--no-install', 'gem-flow', '--version'],
        { cwd: repoRoot, timeout: 60_000 },
        (error, stdout, stderr) =>
          resolvePromise({ code: error ? 1 : 0, stdout: String(stdout), stderr: String(stderr) }),
      );
    });
    expect(run.stdout).toBe(`${APP_VERSION}\n`);
    expect(run.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.bin['gem-flow']).toBe('dist/cli/main.js');
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
