/**
 * The whole app running offline: the stand-in stack (Azurite, identity, Key Vault, TomTom simulator) plus the
 * local Functions host running the built app as a child process. `npm start`, the end-to-end tests and the
 * benchmarks all start it through here, so they exercise exactly the same wiring.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CLOCK_SETTING_NAMES } from './host/clock.js';
import { type Stack, type StackOptions, startStack, updateStackJson } from './standins/stack.js';
import { appSubscriptions } from './subscriptions.js';

/** The project root, whether this module runs compiled (dist/local) or from source (local/, under vitest). */
export const repoRoot = findProjectRoot(__dirname);

/** The host always runs compiled: it is a separate Node process that loads the app's compiled entry. */
const hostCli = join(repoRoot, 'dist', 'local', 'host', 'cli.js');

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'host.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`No project root (package.json + host.json) above ${from}.`);
  }
}

/**
 * Settings a fresh clone needs when there is no local.settings.json (the stack supplies the rest). A timer
 * schedule written as `%NAME%` must be an app setting, as in Azure (infra/app/api.bicep sets the same value).
 */
const DEFAULT_VALUES: Record<string, string> = {
  FUNCTIONS_WORKER_RUNTIME: 'node',
  AzureWebJobsFeatureFlags: 'EnableWorkerIndexing',
  // Callback receivers on this machine (the tests' and the README's, on 127.0.0.1) are admitted, and nothing
  // else on loopback: not localhost, ::1 or 127.0.0.2, and no private range. local.settings.json may change it.
  NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
};

export interface HostReady {
  event: 'ready';
  baseUrl: string;
  port: number;
  pid: number;
  functions: { name: string; trigger: string }[];
  /** Functions disabled at indexing (e.g. a %SETTING% that does not resolve), with the host's errors. */
  functionErrors: Record<string, string[]>;
}

export interface HostKeys {
  functionKey: string;
  systemKey: string;
  masterKey: string;
  /** Extension system keys by Azure name: `durabletask_extension`, `eventgrid_extension`. */
  systemKeys: Record<string, string>;
}

export interface LocalAppOptions {
  /** Where stack.json, the certificate and host state live. */
  dir: string;
  /** Keep Azurite's data and the host's state under `dir` across restarts (npm start). */
  persistent?: boolean;
  timeScale?: number;
  /** The app to host (a folder with package.json "main" and host.json); default this repository. */
  appRoot?: string;
  port?: number;
  /** Extra settings for the app, applied over local.settings.json and the stack's settings. */
  env?: Record<string, string>;
  /** Read local.settings.json from the app root (npm start does; tests do not). */
  useLocalSettings?: boolean;
  writeStackJson?: boolean;
  /** Each line the host prints; default: echo with a [host] prefix. */
  onHostLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How many host lines `hostLog` keeps (oldest dropped first). */
  keepLogLines?: number;
  /** GEM job durations for the simulator (virtual time); default the simulator's. */
  jobDurations?: StackOptions['jobDurations'];
  /**
   * The app's settings, complete, built from the running stack (e.g. a deployment's settings with local
   * endpoints): they replace local.settings.json and the stack's own settings, and no app setting of this
   * process's environment reaches the host. The host still gets the stack's CA and virtual clock.
   */
  appSettings?: (stack: Stack) => Record<string, string> | Promise<Record<string, string>>;
  /** Node options for the host process, e.g. `--no-experimental-require-module`. */
  hostNodeArgs?: string[];
}

export interface LocalApp {
  readonly stack: Stack;
  readonly baseUrl: string;
  readonly keys: HostKeys;
  readonly functions: HostReady['functions'];
  readonly functionErrors: HostReady['functionErrors'];
  readonly hostPid: number;
  /** Every line the host printed (bounded by keepLogLines), for log assertions. */
  readonly hostLog: string[];
  /** Stops the host (SIGKILL simulates a crash) and starts it again on the same state and port. */
  restartHost(signal?: NodeJS.Signals): Promise<void>;
  /** Called when the host exits without being asked to. */
  onUnexpectedHostExit(listener: (description: string) => void): void;
  close(): Promise<void>;
}

export function localSettingsValues(appRoot: string): Record<string, string> {
  const file = join(appRoot, 'local.settings.json');
  if (!existsSync(file)) return DEFAULT_VALUES;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
    return { ...DEFAULT_VALUES, ...(parsed.Values ?? {}) };
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as Error).message}. Fix the JSON or delete the file.`);
  }
}

export async function startLocalApp(options: LocalAppOptions): Promise<LocalApp> {
  const dir = resolve(options.dir);
  const appRoot = resolve(options.appRoot ?? repoRoot);
  const timeScale = options.timeScale ?? 1;
  const stateDir = join(dir, 'host');
  const keepLines = options.keepLogLines ?? 20_000;
  const echo = options.onHostLine ?? defaultEcho;
  const hostLog: string[] = [];
  const unexpectedExitListeners: ((description: string) => void)[] = [];

  const stack = await startStack({
    dir,
    persistent: options.persistent ?? false,
    timeScale,
    writeStackJson: options.writeStackJson ?? true,
    ...(options.jobDurations ? { jobDurations: options.jobDurations } : {}),
  });
  const given = options.appSettings && (await settingsOf(options.appSettings, stack));
  const env: NodeJS.ProcessEnv = given
    ? { ...withoutAppSettings(process.env, stack), ...hostSettings(stack), ...given }
    : {
        // The stack's settings win over local.settings.json: they point at the stand-ins running now.
        // NODE_EXTRA_CA_CERTS is among them and must be in the child's environment when it starts.
        ...process.env,
        ...(options.useLocalSettings ? localSettingsValues(appRoot) : DEFAULT_VALUES),
        ...stack.settings,
      };
  Object.assign(
    env,
    {
      LOCAL_TIME_SCALE: String(timeScale),
      // The subscriptions the postdeploy hook creates on Azure, for the host's Event Grid stand-in.
      LOCAL_EVENTGRID_SUBSCRIPTIONS: JSON.stringify(appSubscriptions),
    },
    options.env,
  );

  let child: ChildProcess | undefined;
  let ready: HostReady | undefined;
  let stopping = false;

  const launch = async (port: number | undefined) => {
    const started = await startHostChild(
      appRoot,
      stateDir,
      env,
      port,
      options.hostNodeArgs ?? [],
      (line, stream) => {
        hostLog.push(line);
        if (hostLog.length > keepLines) hostLog.shift();
        echo(line, stream);
      },
    );
    child = started.child;
    ready = started.ready;
    const launched = child;
    launched.once('exit', (code, signal) => {
      if (stopping || launched !== child) return;
      const description = signal ?? `code ${code}`;
      for (const listener of unexpectedExitListeners) listener(description);
    });
  };

  try {
    await launch(options.port);
  } catch (error) {
    await stack.close();
    throw error;
  }
  const keys = JSON.parse(readFileSync(join(stateDir, 'keys.json'), 'utf8')) as HostKeys;
  const firstReady = ready!;
  if (options.writeStackJson ?? true) {
    updateStackJson(dir, {
      functionsBaseUrl: firstReady.baseUrl,
      functionKey: keys.functionKey,
      systemKey: keys.systemKey,
      eventGridKey: keys.systemKeys.eventgrid_extension,
      masterKey: keys.masterKey,
      hostPid: firstReady.pid,
      timeScale,
      functions: firstReady.functions,
    });
  }

  return {
    stack,
    baseUrl: firstReady.baseUrl,
    keys,
    functions: firstReady.functions,
    functionErrors: firstReady.functionErrors,
    get hostPid() {
      return ready!.pid;
    },
    hostLog,
    async restartHost(signal: NodeJS.Signals = 'SIGTERM') {
      const previous = child!;
      child = undefined;
      await stopChild(previous, signal);
      await launch(firstReady.port);
    },
    onUnexpectedHostExit(listener) {
      unexpectedExitListeners.push(listener);
    },
    async close() {
      stopping = true;
      if (child) await stopChild(child, 'SIGTERM');
      await stack.close();
    },
  };
}

async function settingsOf(
  build: NonNullable<LocalAppOptions['appSettings']>,
  stack: Stack,
): Promise<Record<string, string>> {
  try {
    return await build(stack);
  } catch (error) {
    await stack.close();
    throw error;
  }
}

/** What the host needs from the stack that is not an app setting: trust in its CA, its virtual clock. */
function hostSettings(stack: Stack): Record<string, string> {
  const names = ['NODE_EXTRA_CA_CERTS', ...CLOCK_SETTING_NAMES];
  return Object.fromEntries(
    names.flatMap((name) => (stack.settings[name] ? [[name, stack.settings[name]]] : [])),
  );
}

/**
 * This process's environment without anything that could act as an app setting: every name the stack sets
 * (a test runner exports a stack's settings into its own environment) and any AzureWebJobsStorage form.
 */
function withoutAppSettings(env: NodeJS.ProcessEnv, stack: Stack): NodeJS.ProcessEnv {
  const stackNames = new Set(Object.keys(stack.settings));
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !stackNames.has(name) && !/^AzureWebJobs/i.test(name)),
  );
}

function defaultEcho(line: string, stream: 'stdout' | 'stderr'): void {
  if (stream === 'stderr') console.error(`[host] ${line}`);
  else console.log(`[host] ${line}`);
}

/** Starts the host child and resolves with its ready line; rejects with its output if it exits first. */
function startHostChild(
  appRoot: string,
  stateDir: string,
  env: NodeJS.ProcessEnv,
  port: number | undefined,
  nodeArgs: string[],
  onLine: (line: string, stream: 'stdout' | 'stderr') => void,
): Promise<{ child: ChildProcess; ready: HostReady }> {
  const args = [...nodeArgs, hostCli, '--app', appRoot, '--state-dir', stateDir];
  if (port !== undefined) args.push('--port', String(port));
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolveReady, reject) => {
    let isReady = false;
    const recent: string[] = [];
    const remember = (line: string) => {
      recent.push(line);
      if (recent.length > 40) recent.shift();
    };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!isReady && line.startsWith('{"event":"ready"')) {
        isReady = true;
        resolveReady({ child, ready: JSON.parse(line) as HostReady });
        return;
      }
      remember(line);
      onLine(line, 'stdout');
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      remember(line);
      onLine(line, 'stderr');
    });
    child.once('exit', (code, signal) => {
      if (!isReady) {
        reject(
          new Error(
            `The Functions host exited during start-up (${signal ?? `code ${code}`}):\n${recent.join('\n')}`,
          ),
        );
      }
    });
  });
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolveStop();
    });
    child.kill(signal);
  });
}
