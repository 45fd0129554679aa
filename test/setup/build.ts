/**
 * Compiles the project to dist/ (tsconfig.build.json, then the results page into dist/web) for tests that run compiled entry points as child
 * processes (the host CLI, `npm start`). Usable as a vitest globalSetup step or from a beforeAll.
 *
 * tsc emits even when some file has type errors; those are reported (typecheck is its own CI step), and the
 * build fails only if an output the caller needs was not freshly written.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..', '..');

export function buildProject(
  requiredOutputs: string[] = [
    'dist/local/host/cli.js',
    'dist/local/start.js',
    'dist/functions/index.js',
    'dist/web/manifest.json',
  ],
): void {
  const started = Date.now();
  const tsc = createRequire(__filename).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: repoRoot,
      stdio: 'pipe',
      timeout: 300_000,
    });
  } catch (error) {
    const output = String((error as { stdout?: Buffer }).stdout ?? '');
    console.warn(`[build] tsc reported errors (outputs were still emitted):\n${output.slice(0, 4000)}`);
  }
  // The CLI's bin executable, as `npm run build` leaves it (npx runs it through the shell).
  execFileSync(process.execPath, [resolve(repoRoot, 'scripts', 'markBin.js')], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
  // The results page (dist/web), which the app serves and the browser tests open.
  execFileSync(process.execPath, [resolve(repoRoot, 'scripts', 'buildWeb.js'), '--quiet'], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
  for (const output of requiredOutputs) {
    const file = resolve(repoRoot, output);
    let mtime = 0;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {}
    if (mtime < started - 1000) {
      throw new Error(
        `The build did not write ${output}; run \`npm run build\` and fix the errors it reports.`,
      );
    }
  }
}

/** As a globalSetup step. */
export default function setup(): void {
  buildProject();
}
