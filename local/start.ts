/**
 * `npm start`: the offline stack (Azurite, identity, Key Vault, TomTom simulator) plus the local Functions
 * host running the built app as a child process, all on persistent state under the local dir, so a later
 * start carries on where this one stopped. Writes `<dir>/stack.json` once everything is ready, restarts a host
 * that exits unexpectedly (backoff, at most GEMFLOW_HOST_RESTARTS restarts in 10 minutes; then it stops the
 * stack, naming the last exit and the host log `<dir>/host/host.log`), and shuts everything down on Ctrl-C
 * (host first, then the stack).
 *
 * While it runs it says what the matches do (local/matchTalk.ts): a line per phase, one at the end naming the
 * outputs. `npm start` runs it through scripts/start.js, which builds first and passes GEMFLOW_LAUNCHED_AT_MS
 * and GEMFLOW_BUILD_MS, so "ready in" counts the build too.
 *
 * Environment: GEMFLOW_LOCAL_DIR (default `.local`), GEMFLOW_TIME_SCALE (default 1), GEMFLOW_APP_ROOT
 * (default: this repository), GEMFLOW_PORT (default 7071 or the next free port), GEMFLOW_HOST_RESTARTS
 * (default 5; 0 stops the stack at the host's first unexpected exit), GEMFLOW_HOST_INSPECT (a port: the host
 * child runs with --inspect on it, for a debugger), GEMFLOW_HTTP_ENV_DIR (default `http`: where the variables
 * of requests.http are written, local/httpClientEnv.ts), GEMFLOW_TRACES (`1`: the app's spans go to the OTLP
 * collector stand-in, `GET <otlpEndpoint>/spans?match=<id>`).
 */
import { join, resolve } from 'node:path';
import { type LocalApp, repoRoot, startLocalApp } from './app.js';
import { writeHttpClientEnv } from './httpClientEnv.js';
import { startMatchTalk } from './matchTalk.js';
import { DEFAULT_RESTART_POLICY } from './restarts.js';

async function main(): Promise<void> {
  const started = launchedAt();
  const dir = resolve(process.env.GEMFLOW_LOCAL_DIR ?? join(repoRoot, '.local'));
  const timeScale = Number(process.env.GEMFLOW_TIME_SCALE ?? 1);
  if (!Number.isFinite(timeScale) || timeScale <= 0) {
    throw new Error(`GEMFLOW_TIME_SCALE must be a positive number, got "${process.env.GEMFLOW_TIME_SCALE}".`);
  }
  const port = process.env.GEMFLOW_PORT ? Number(process.env.GEMFLOW_PORT) : undefined;
  const app: LocalApp = await startLocalApp({
    dir,
    persistent: true,
    timeScale,
    useLocalSettings: true,
    ...(process.env.GEMFLOW_APP_ROOT ? { appRoot: process.env.GEMFLOW_APP_ROOT } : {}),
    ...(port !== undefined ? { port } : {}),
    keepLogLines: 0,
    ...(inspectPort() ? { hostNodeArgs: [`--inspect=127.0.0.1:${inspectPort()}`] } : {}),
    restartOnCrash: { maxRestarts: maxRestarts() },
    hostLogFile: join(dir, 'host', 'host.log'),
    traces: process.env.GEMFLOW_TRACES === '1',
  });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    stopping ??= (async () => {
      console.log(`\n${signal}: stopping the Functions host, then the stack…`);
      await app.close();
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  app.onHostRestart((restart) => console.error(restart.line));
  app.onUnexpectedHostExit((down) => {
    if (stopping) return;
    console.error(`${down.message} Stopping the stack.`);
    stopping = app.close().then(() => process.exit(1));
  });
  const httpDir = resolve(process.env.GEMFLOW_HTTP_ENV_DIR ?? join(repoRoot, 'http'));
  writeHttpClientEnv(httpDir, { baseUrl: app.baseUrl, functionKey: app.keys.functionKey });
  printBanner(app, dir, httpDir, Date.now() - started);
  startMatchTalk({
    baseUrl: app.baseUrl,
    functionKey: app.keys.functionKey,
    clock: app.stack.clock,
    print: (line) => console.log(line),
  });
}

/** When `npm start` began (before the build, see scripts/start.js), or this process's start. */
function launchedAt(): number {
  const launched = Number(process.env.GEMFLOW_LAUNCHED_AT_MS);
  return Number.isFinite(launched) && launched > 0 ? launched : Date.now() - process.uptime() * 1000;
}

function buildNote(): string {
  const build = Number(process.env.GEMFLOW_BUILD_MS);
  return Number.isFinite(build) && build >= 0 ? `, build ${build} ms included` : '';
}

/** GEMFLOW_HOST_INSPECT: the port the host child's inspector listens on, for a debugger to attach (.vscode). */
function inspectPort(): number | undefined {
  const raw = process.env.GEMFLOW_HOST_INSPECT?.trim();
  if (!raw) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`GEMFLOW_HOST_INSPECT must be a port number (e.g. 9229), got "${raw}".`);
  }
  return port;
}

function maxRestarts(): number {
  const raw = process.env.GEMFLOW_HOST_RESTARTS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_RESTART_POLICY.maxRestarts;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`GEMFLOW_HOST_RESTARTS must be a whole number of restarts (0 or more), got "${raw}".`);
  }
  return value;
}

function printBanner(app: LocalApp, dir: string, httpDir: string, ms: number): void {
  const base = app.baseUrl;
  const key = app.keys.functionKey;
  console.log(`
gem-flow is running locally (ready in ${ms} ms${buildNote()})
  Functions host   ${base}  (${app.functions.length} functions)
  Function key     ${key}
  Stack details    ${join(dir, 'stack.json')}
  Host log         ${join(dir, 'host', 'host.log')}
  HTTP requests    ${join(repoRoot, 'http', 'requests.http')} (this run's URL and key: ${httpDir}/.env, http-client.private.env.json)
  State            ${dir} (kept across restarts; delete it to start afresh)${tracesLine(app)}

Try:
  # make a sample ROAD_MATCHING file and upload it to the inbox (its BlobCreated event starts a match)
  mkdir -p samples
  npm run sample -- valid samples/roads.parquet 500
  npm run upload -- samples/roads.parquet
  # list matches, then read one by its id
  curl -s "${base}/api/matches" -H "x-functions-key: ${key}"
  curl -s "${base}/api/matches/<id>" -H "x-functions-key: ${key}"
  # or start a match over HTTP for a blob already in the inbox
  curl -s -X POST "${base}/api/matches" -H "x-functions-key: ${key}" -H 'content-type: application/json' \\
       -d '{"inboxBlob":"roads.parquet"}'

Press Ctrl-C to stop.`);
}

function tracesLine(app: LocalApp): string {
  return app.collector ? `\n  Traces (OTLP)    ${app.collector.endpoint}/spans?match=<id>` : '';
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
});
