/**
 * `npm start`: the offline stack (Azurite, identity, Key Vault, TomTom simulator) plus the local Functions
 * host running the built app as a child process. Writes `<dir>/stack.json` once everything is ready and shuts
 * everything down on Ctrl-C (host first, then the stack).
 *
 * Environment: GEMFLOW_LOCAL_DIR (default `.local`), GEMFLOW_TIME_SCALE (default 1), GEMFLOW_APP_ROOT
 * (default: this repository), GEMFLOW_PORT (default 7071 or the next free port).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startStack, updateStackJson } from './standins/stack.js';

const repoRoot = resolve(__dirname, '..', '..');

/** Settings a fresh clone needs when there is no local.settings.json (the stack supplies the rest). */
const DEFAULT_VALUES: Record<string, string> = {
  FUNCTIONS_WORKER_RUNTIME: 'node',
  AzureWebJobsFeatureFlags: 'EnableWorkerIndexing',
};

interface ReadyLine {
  event: 'ready';
  baseUrl: string;
  port: number;
  pid: number;
  functions: { name: string; trigger: string }[];
}

function localSettingsValues(appRoot: string): Record<string, string> {
  const file = join(appRoot, 'local.settings.json');
  if (!existsSync(file)) return DEFAULT_VALUES;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
    return { ...DEFAULT_VALUES, ...(parsed.Values ?? {}) };
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as Error).message}. Fix the JSON or delete the file.`);
  }
}

/** Starts the host child and resolves with its ready line; rejects with its output if it exits first. */
function startHostChild(
  appRoot: string,
  stateDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; ready: ReadyLine }> {
  const args = [join(__dirname, 'host', 'cli.js'), '--app', appRoot, '--state-dir', stateDir];
  if (process.env.GEMFLOW_PORT) args.push('--port', process.env.GEMFLOW_PORT);
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolveReady, reject) => {
    let ready = false;
    const recent: string[] = [];
    const remember = (line: string) => {
      recent.push(line);
      if (recent.length > 40) recent.shift();
    };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) {
        ready = true;
        resolveReady({ child, ready: JSON.parse(line) as ReadyLine });
        return;
      }
      remember(line);
      console.log(`[host] ${line}`);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      remember(line);
      console.error(`[host] ${line}`);
    });
    child.once('exit', (code, signal) => {
      if (!ready)
        reject(
          new Error(
            `The Functions host exited during start-up (${signal ?? `code ${code}`}):\n${recent.join('\n')}`,
          ),
        );
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = resolve(process.env.GEMFLOW_LOCAL_DIR ?? join(repoRoot, '.local'));
  const appRoot = resolve(process.env.GEMFLOW_APP_ROOT ?? repoRoot);
  const timeScale = Number(process.env.GEMFLOW_TIME_SCALE ?? 1);
  if (!Number.isFinite(timeScale) || timeScale <= 0) {
    throw new Error(`GEMFLOW_TIME_SCALE must be a positive number, got "${process.env.GEMFLOW_TIME_SCALE}".`);
  }
  const values = localSettingsValues(appRoot);
  const stack = await startStack({ dir, persistent: true, timeScale });
  let child: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    stopping ??= (async () => {
      console.log(`\n${signal}: stopping the Functions host, then the stack…`);
      if (child) await stopChild(child);
      await stack.close();
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

  try {
    // The stack's settings win over local.settings.json: they point at the stand-ins that are running now.
    // NODE_EXTRA_CA_CERTS is among them and must be in the child's environment at its start.
    const env = { ...process.env, ...values, ...stack.settings, LOCAL_TIME_SCALE: String(timeScale) };
    const host = await startHostChild(appRoot, join(dir, 'host'), env);
    child = host.child;
    child.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(
          `The Functions host stopped unexpectedly (${signal ?? `code ${code}`}); stopping the stack.`,
        );
        void stack.close().then(() => process.exit(1));
      }
    });
    const keys = JSON.parse(readFileSync(join(dir, 'host', 'keys.json'), 'utf8')) as {
      functionKey: string;
      systemKey: string;
      masterKey: string;
    };
    updateStackJson(dir, {
      functionsBaseUrl: host.ready.baseUrl,
      functionKey: keys.functionKey,
      systemKey: keys.systemKey,
      masterKey: keys.masterKey,
      hostPid: host.ready.pid,
      timeScale,
      functions: host.ready.functions,
    });
    printBanner(host.ready, keys.functionKey, stack.info.inboxContainer, dir, Date.now() - started);
  } catch (error) {
    if (child) await stopChild(child);
    await stack.close();
    throw error;
  }
}

function printBanner(ready: ReadyLine, functionKey: string, inbox: string, dir: string, ms: number): void {
  const base = ready.baseUrl;
  console.log(`
gem-flow is running locally (ready in ${ms} ms)
  Functions host   ${base}  (${ready.functions.length} functions)
  Function key     ${functionKey}
  Stack details    ${join(dir, 'stack.json')}

Try:
  # upload a sample file to the inbox (Azurite; the host's blob watcher raises the BlobCreated event)
  az storage blob upload --connection-string "$(node -p "require('${join(dir, 'stack.json')}').storageConnectionString")" \\
     -c ${inbox} -n roads.parquet -f ./roads.parquet
  # start a match over HTTP
  curl -s -X POST "${base}/api/matches" -H "x-functions-key: ${functionKey}" -H 'content-type: application/json' -d '{"inboxBlob":"roads.parquet"}'
  # read its status (use the statusQueryGetUri / id from the previous answer)
  curl -s "${base}/api/matches/<id>" -H "x-functions-key: ${functionKey}"

Press Ctrl-C to stop.`);
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
});
