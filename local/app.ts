/**
 * The whole app running offline: the stand-in stack (Azurite, identity, Key Vault, TomTom simulator) plus the
 * local Functions host running the built app as a child process. `npm start`, the end-to-end tests and the
 * benchmarks all start it through here, so they exercise exactly the same wiring. With `restartOnCrash` (npm
 * start) a host that exits unexpectedly is started again on the same port and state, with backoff and a limit
 * (local/restarts.ts); the durable task hub in Azurite lets the new host resume pending work.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CLOCK_SETTING_NAMES } from './host/clock.js';
import {
  createRestartBudget,
  DEFAULT_RESTART_POLICY,
  describeExit,
  hostDownMessage,
  type PlannedRestart,
  type RestartBudget,
  type RestartPolicy,
  restartLine,
} from './restarts.js';
import { type OtlpCollector, startOtlpCollector } from './standins/otlpCollector.js';
import { type Stack, type StackOptions, startStack, updateStackJson } from './standins/stack.js';
import { appSubscriptions } from './subscriptions.js';

export type { RestartPolicy } from './restarts.js';

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
  /** Per-user GEM job limits for the simulator; default none. */
  jobLimits?: StackOptions['jobLimits'];
  /**
   * The app's settings, complete, built from the running stack (e.g. a deployment's settings with local
   * endpoints): they replace local.settings.json and the stack's own settings, and no app setting of this
   * process's environment reaches the host. The host still gets the stack's CA and virtual clock.
   */
  appSettings?: (stack: Stack) => Record<string, string> | Promise<Record<string, string>>;
  /** Node options for the host process, e.g. `--no-experimental-require-module`. */
  hostNodeArgs?: string[];
  /**
   * Start a host that exits unexpectedly again, on the same port and state (npm start): `true` for
   * DEFAULT_RESTART_POLICY, or a policy. Default: no restart; `onUnexpectedHostExit` hears of the exit.
   */
  restartOnCrash?: boolean | Partial<RestartPolicy>;
  /** Also write every host line to this file (npm start: `<dir>/host/host.log`); emptied at start. */
  hostLogFile?: string;
  /**
   * Start the OTLP collector stand-in and send the app's spans to it (`OTEL_EXPORTER_OTLP_ENDPOINT`, JSON,
   * exported every 500 ms); `LocalApp.collector` holds what it received.
   */
  traces?: boolean;
}

/** A restart the launcher is about to make. */
export interface HostRestart extends PlannedRestart {
  /** How the host exited (`signal SIGKILL`, `code 1, during start-up`). */
  exit: string;
  /** The line npm start prints. */
  line: string;
}

/** The host exited and stays down: no restart policy, or its restarts are used up. */
export interface HostDown {
  exit: string;
  /** Restarts made within the policy's window before this exit. */
  restarts: number;
  logFile?: string;
  /** What happened and where the host's output is, for the user. */
  message: string;
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
  /** The collector the app's spans go to (option `traces`). */
  readonly collector?: OtlpCollector;
  /** Stops the host (SIGKILL simulates a crash) and starts it again on the same state and port. */
  restartHost(signal?: NodeJS.Signals): Promise<void>;
  /** Called before each automatic restart (`restartOnCrash`). */
  onHostRestart(listener: (restart: HostRestart) => void): void;
  /** Called when the host exits without being asked to and is not restarted. */
  onUnexpectedHostExit(listener: (down: HostDown) => void): void;
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
  const writeStackJson = options.writeStackJson ?? true;

  const stack = await startStack({
    dir,
    persistent: options.persistent ?? false,
    timeScale,
    writeStackJson,
    ...(options.jobDurations ? { jobDurations: options.jobDurations } : {}),
    ...(options.jobLimits ? { jobLimits: options.jobLimits } : {}),
  });
  const collector = options.traces ? await startOtlpCollector() : undefined;
  const env = await hostEnvironment(options, stack, appRoot, timeScale);
  if (collector) Object.assign(env, collectorSettings(collector));
  const output = hostOutput(options);
  const host = new HostSupervisor({
    appRoot,
    stateDir,
    env,
    nodeArgs: options.hostNodeArgs ?? [],
    output,
    policy: restartPolicyOf(options.restartOnCrash),
    onRestarted: (ready) => {
      if (writeStackJson) updateStackJson(dir, { hostPid: ready.pid });
    },
  });

  let firstReady: HostReady;
  try {
    firstReady = await host.start(options.port);
  } catch (error) {
    output.close();
    await collector?.close();
    await stack.close();
    throw error;
  }
  const keys = JSON.parse(readFileSync(join(stateDir, 'keys.json'), 'utf8')) as HostKeys;
  if (writeStackJson) {
    updateStackJson(dir, {
      functionsBaseUrl: firstReady.baseUrl,
      functionKey: keys.functionKey,
      systemKey: keys.systemKey,
      eventGridKey: keys.systemKeys.eventgrid_extension,
      masterKey: keys.masterKey,
      hostPid: firstReady.pid,
      timeScale,
      ...(collector ? { otlpEndpoint: collector.endpoint } : {}),
      functions: firstReady.functions,
      ...(options.hostLogFile ? { hostLogFile: options.hostLogFile } : {}),
    });
  }

  return {
    stack,
    baseUrl: firstReady.baseUrl,
    keys,
    functions: firstReady.functions,
    functionErrors: firstReady.functionErrors,
    get hostPid() {
      return host.pid;
    },
    hostLog: output.lines,
    ...(collector ? { collector } : {}),
    restartHost: (signal) => host.restart(signal),
    onHostRestart: (listener) => host.onRestart(listener),
    onUnexpectedHostExit: (listener) => host.onDown(listener),
    async close() {
      // The host flushes its spans as it stops (appTerminate), so the collector closes after it.
      await host.stop();
      output.close();
      await collector?.close();
      await stack.close();
    },
  };
}

/** The host child's environment: this process's, the app's settings and the stack's (see LocalAppOptions). */
async function hostEnvironment(
  options: LocalAppOptions,
  stack: Stack,
  appRoot: string,
  timeScale: number,
): Promise<NodeJS.ProcessEnv> {
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
  return Object.assign(
    env,
    {
      LOCAL_TIME_SCALE: String(timeScale),
      // The subscriptions the postdeploy hook creates on Azure, for the host's Event Grid stand-in.
      LOCAL_EVENTGRID_SUBSCRIPTIONS: JSON.stringify(appSubscriptions),
    },
    options.env,
  );
}

/** The app's tracing settings for the collector stand-in: OTLP/HTTP with JSON, batches sent every 500 ms. */
function collectorSettings(collector: OtlpCollector): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '500',
  };
}

function restartPolicyOf(option: LocalAppOptions['restartOnCrash']): RestartPolicy | undefined {
  if (!option) return undefined;
  return option === true ? DEFAULT_RESTART_POLICY : { ...DEFAULT_RESTART_POLICY, ...option };
}

interface HostOutput {
  /** Every line the host printed, bounded by keepLogLines. */
  lines: string[];
  line(line: string, stream: 'stdout' | 'stderr'): void;
  /** A line of the launcher's own, into the log file only (the caller prints it as it likes). */
  note(line: string): void;
  logFile?: string;
  close(): void;
}

/** Where the host's lines go: the bounded in-memory log, the echo, and the log file. */
function hostOutput(options: LocalAppOptions): HostOutput {
  const keepLines = options.keepLogLines ?? 20_000;
  const echo = options.onHostLine ?? defaultEcho;
  const lines: string[] = [];
  let file: WriteStream | undefined;
  if (options.hostLogFile) {
    mkdirSync(dirname(options.hostLogFile), { recursive: true });
    file = createWriteStream(options.hostLogFile, { flags: 'w', mode: 0o600 });
  }
  return {
    lines,
    line(line, stream) {
      lines.push(line);
      if (lines.length > keepLines) lines.shift();
      file?.write(`${line}\n`);
      echo(line, stream);
    },
    note: (line) => file?.write(`[launcher] ${line}\n`),
    ...(options.hostLogFile ? { logFile: options.hostLogFile } : {}),
    close: () => file?.end(),
  };
}

interface SupervisorOptions {
  appRoot: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  nodeArgs: string[];
  output: HostOutput;
  policy: RestartPolicy | undefined;
  /** After an automatic restart is ready. */
  onRestarted(ready: HostReady): void;
}

/**
 * The host child through its life: the first start, manual restarts, and, with a policy, automatic restarts
 * after an unexpected exit (with backoff, up to the limit); then `onDown` listeners hear why it stays down.
 * A start-up failure of the first start is thrown to the caller instead (a configuration error, not a crash).
 */
class HostSupervisor {
  readonly #options: SupervisorOptions;
  readonly #budget: RestartBudget | undefined;
  readonly #restartListeners: ((restart: HostRestart) => void)[] = [];
  readonly #downListeners: ((down: HostDown) => void)[] = [];
  #child: ChildProcess | undefined;
  #ready: HostReady | undefined;
  #port: number | undefined;
  #stopping = false;
  #pending: NodeJS.Timeout | undefined;
  #relaunching: Promise<void> | undefined;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#budget = options.policy && createRestartBudget(options.policy);
  }

  start(port: number | undefined): Promise<HostReady> {
    this.#port = port;
    return this.#launch();
  }

  get pid(): number {
    return this.#ready!.pid;
  }

  /** Stops the host with `signal` and starts it again on the same port; not counted as a crash. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    clearTimeout(this.#pending);
    await this.#relaunching;
    const previous = this.#child;
    this.#child = undefined;
    if (previous) await stopChild(previous, signal);
    await this.#launch();
  }

  onRestart(listener: (restart: HostRestart) => void): void {
    this.#restartListeners.push(listener);
  }

  onDown(listener: (down: HostDown) => void): void {
    this.#downListeners.push(listener);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#pending);
    await this.#relaunching?.catch(() => undefined);
    if (this.#child) await stopChild(this.#child, 'SIGTERM');
  }

  async #launch(): Promise<HostReady> {
    const { appRoot, stateDir, env, nodeArgs, output } = this.#options;
    const started = await startHostChild(appRoot, stateDir, env, this.#port, nodeArgs, output.line);
    const launched = started.child;
    this.#child = launched;
    this.#ready = started.ready;
    this.#port = started.ready.port;
    launched.once('exit', (code, signal) => {
      if (!this.#stopping && launched === this.#child) this.#exited(describeExit(code, signal));
    });
    return started.ready;
  }

  #exited(exit: string): void {
    this.#child = undefined;
    const { policy, output } = this.#options;
    const planned = this.#budget?.take();
    if (!planned) {
      const restarts = this.#budget?.inWindow() ?? 0;
      const message = hostDownMessage(exit, restarts, policy, output.logFile);
      output.note(message);
      const down = { exit, restarts, message, ...(output.logFile ? { logFile: output.logFile } : {}) };
      for (const listener of this.#downListeners) listener(down);
      return;
    }
    const line = restartLine(exit, planned, policy!);
    output.note(line);
    for (const listener of this.#restartListeners) listener({ ...planned, exit, line });
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      this.#relaunching = this.#relaunch().finally(() => {
        this.#relaunching = undefined;
      });
    }, planned.delayMs);
  }

  async #relaunch(): Promise<void> {
    if (this.#stopping) return;
    try {
      this.#options.onRestarted(await this.#launch());
    } catch (error) {
      if (this.#stopping) return;
      this.#exited(
        error instanceof HostStartError
          ? `${error.exit}, during start-up`
          : `could not be started: ${(error as Error).message}`,
      );
    }
  }
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

/** The host child exited before it was ready. */
export class HostStartError extends Error {
  constructor(
    /** `code 1` or `signal SIGKILL`. */
    readonly exit: string,
    recent: string[],
  ) {
    super(`The Functions host exited during start-up (${exit}):\n${recent.join('\n')}`);
    this.name = 'HostStartError';
  }
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
      if (!isReady) reject(new HostStartError(describeExit(code, signal), recent));
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
