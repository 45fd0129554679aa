// package.json `main` as the Node worker reads it (azure-functions-nodejs-worker src/startApp.ts
// loadEntryPointFile): a glob pattern (globby, relative to the app root) whose every match is loaded, and the
// worker's own messages when nothing matches. Run through the host CLI, since a process hosts one app.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const cli = resolve(__dirname, '../../../dist/local/host/cli.js');
const globApp = resolve(__dirname, '../../fixtures/glob-app');

interface Ready {
  baseUrl: string;
  functions: { name: string }[];
}

function spawnHost(appRoot: string) {
  const child = spawn(
    process.execPath,
    [cli, '--app', appRoot, '--port', '0', '--state-dir', tempDir('glob')],
    {
      env: { ...process.env, LOCAL_BLOB_WATCH: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((done) =>
    child.once('exit', (code) => done({ code, stderr })),
  );
  const ready = new Promise<Ready>((done, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) done(JSON.parse(line) as Ready);
    });
    child.once('exit', (code) =>
      reject(new Error(`host exited with ${code} before it was ready: ${stderr}`)),
    );
  });
  ready.catch(() => {}); // a test that expects the start to fail awaits `exited` instead
  return { child, ready, exited };
}

/** An app folder with only a package.json: nothing it names exists. */
function appWithMain(main: string): string {
  const dir = tempDir('main');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', main }));
  return dir;
}

describe('package.json main (the worker entry point)', () => {
  it('loads every file a glob matches, and only those', async () => {
    const { child, ready, exited } = spawnHost(globApp);
    try {
      const { baseUrl, functions } = await ready;
      expect(functions.map((f) => f.name).sort()).toEqual(['one', 'root', 'two']);
      const res = await fetch(`${baseUrl}/api/two`);
      expect(await res.text()).toBe('two');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it("fails the app with the worker's message when a pattern matches nothing", async () => {
    const { code, stderr } = await spawnHost(appWithMain('build/functions/*.js')).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /Worker was unable to load entry point "build\/functions\/\*\.js": Found zero files matching the supplied pattern/,
    );
  });

  it("fails the app with the worker's message when a plain path does not exist", async () => {
    const { code, stderr } = await spawnHost(appWithMain('build/index.js')).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/Worker was unable to load entry point "build\/index\.js": File does not exist/);
  });
});
