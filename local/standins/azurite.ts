/**
 * Azurite as a child process (the supported CLI; in-process use would depend on its internal constructors).
 * Spawned with `process.execPath` and the resolved script, never through npx: killing an npx wrapper leaves
 * Azurite orphaned (reference/azure-standins.md §1).
 *
 * HTTPS plus `--oauth basic`, so the same endpoints take SharedKey (connection strings) and bearer tokens
 * from the identity stand-in. Several storage accounts come from AZURITE_ACCOUNTS: the app's own
 * devstoreaccount1 and accounts that play TomTom's PDG storage.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Azurite's well-known development account; the key is public (documented by Microsoft). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface StorageAccount {
  name: string;
  /** Base64 account key. */
  key: string;
}

export interface AzuriteOptions {
  tls: { certFile: string; keyFile: string };
  /** Accounts besides devstoreaccount1 (which is always present). Names: 3-24 lowercase letters/digits. */
  accounts?: StorageAccount[];
  /** Keep data in `location` across restarts; otherwise in memory. */
  persistent?: boolean;
  /** Data directory for persistent mode (required then). */
  location?: string;
  /** Milliseconds to wait for all three services; default 20000. */
  startTimeoutMs?: number;
}

export interface AzuriteHandle {
  pid: number;
  ports: { blob: number; queue: number; table: number };
  accounts: StorageAccount[];
  blobUrl(account?: string): string;
  queueUrl(account?: string): string;
  tableUrl(account?: string): string;
  /** https connection string with all three endpoints (SharedKey). */
  connectionString(account?: string): string;
  accountKey(account?: string): string;
  close(): Promise<void>;
}

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const LISTENING =
  /Azurite (Blob|Queue|Table) service is successfully listening at (https?):\/\/[^\s:]+:(\d+)/g;

type Service = 'blob' | 'queue' | 'table';
type ServicePorts = Record<Service, number>;

/** Where Azurite runs: its arguments, and its working directory (removed on close when it is a temp one). */
interface AzuriteCommand {
  args: string[];
  cwd: string;
  removeCwd: boolean;
}

export async function startAzurite(options: AzuriteOptions): Promise<AzuriteHandle> {
  const accounts = accountsWithDev(options.accounts);
  const command = azuriteCommand(options);
  const child = spawn(process.execPath, command.args, {
    cwd: command.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AZURITE_ACCOUNTS: accounts.map((a) => `${a.name}:${a.key}`).join(';') },
  });
  // If this process exits without close() (crash, Ctrl-C), take Azurite with it rather than orphan it.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const stop = async (): Promise<void> => {
    await stopChild(child);
    process.off('exit', killOnExit);
    if (command.removeCwd) rmSync(command.cwd, { recursive: true, force: true });
  };

  let ports: ServicePorts;
  try {
    ports = await untilListening(child, options.startTimeoutMs ?? 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return azuriteHandle(child.pid!, ports, accounts, stop);
}

/** devstoreaccount1 first, then the given accounts, each checked as Azurite would refuse it. */
function accountsWithDev(given: StorageAccount[] | undefined): StorageAccount[] {
  const accounts: StorageAccount[] = [
    { name: DEV_ACCOUNT, key: DEV_ACCOUNT_KEY },
    ...(given ?? []).filter((a) => a.name !== DEV_ACCOUNT),
  ];
  for (const a of accounts) {
    if (!ACCOUNT_NAME.test(a.name)) {
      throw new Error(`Azurite: account name '${a.name}' is invalid; use 3-24 lowercase letters and digits`);
    }
    if (Buffer.from(a.key, 'base64').length < 16) {
      throw new Error(`Azurite: the key of account '${a.name}' must be base64 of at least 16 bytes`);
    }
  }
  return accounts;
}

/** The CLI arguments: loopback hosts, dynamic ports, HTTPS, OAuth, and either a data directory or memory. */
function azuriteCommand(options: AzuriteOptions): AzuriteCommand {
  const args = [
    require.resolve('azurite/dist/src/azurite.js'),
    '--blobHost',
    '127.0.0.1',
    '--queueHost',
    '127.0.0.1',
    '--tableHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
    '--cert',
    resolve(options.tls.certFile),
    '--key',
    resolve(options.tls.keyFile),
    '--oauth',
    'basic',
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
    '--silent',
  ];
  if (options.persistent) {
    if (!options.location) throw new Error('Azurite: persistent mode needs a location directory');
    const cwd = resolve(options.location);
    mkdirSync(cwd, { recursive: true });
    args.push('--location', cwd);
    return { args, cwd, removeCwd: false };
  }
  // In-memory mode cannot be combined with --location; a temp cwd keeps any stray file out of the repo.
  const cwd = mkdtempSync(join(tmpdir(), 'gemflow-azurite-'));
  args.push('--inMemoryPersistence');
  return { args, cwd, removeCwd: true };
}

/** The three services' ports, read from Azurite's output once it reports them all listening. */
function untilListening(child: ChildProcess, timeoutMs: number): Promise<ServicePorts> {
  let output = '';
  const ports: Partial<ServicePorts> = {};
  return new Promise<ServicePorts>((ready, fail) => {
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `Azurite did not report all three services listening within ${timeoutMs} ms. Output:\n${output}`,
          ),
        ),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      // Keep a bounded tail for error messages; the pipes are drained for the child's whole life so a
      // full pipe buffer can never block it.
      output = (output + chunk.toString('utf8')).slice(-8000);
      for (const m of output.matchAll(LISTENING)) {
        ports[m[1]!.toLowerCase() as Service] = Number(m[3]);
      }
      if (ports.blob && ports.queue && ports.table) {
        clearTimeout(timer);
        ready(ports as ServicePorts);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(new Error(`Azurite could not be started with ${process.execPath}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`Azurite exited during startup (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });
}

/** Endpoints and connection strings per account, and a close that runs `stop` once. */
function azuriteHandle(
  pid: number,
  ports: ServicePorts,
  accounts: StorageAccount[],
  stop: () => Promise<void>,
): AzuriteHandle {
  const find = (account = DEV_ACCOUNT): StorageAccount => {
    const a = accounts.find((x) => x.name === account);
    if (!a)
      throw new Error(
        `Azurite: unknown account '${account}'; known: ${accounts.map((x) => x.name).join(', ')}`,
      );
    return a;
  };
  const serviceUrl = (service: Service, account?: string) =>
    `https://127.0.0.1:${ports[service]}/${find(account).name}`;
  const blobUrl = (account?: string) => serviceUrl('blob', account);
  const queueUrl = (account?: string) => serviceUrl('queue', account);
  const tableUrl = (account?: string) => serviceUrl('table', account);
  let closed: Promise<void> | undefined;

  return {
    pid,
    ports,
    accounts,
    blobUrl,
    queueUrl,
    tableUrl,
    accountKey: (account) => find(account).key,
    connectionString: (account) => {
      const a = find(account);
      return (
        `DefaultEndpointsProtocol=https;AccountName=${a.name};AccountKey=${a.key};` +
        `BlobEndpoint=${blobUrl(a.name)};QueueEndpoint=${queueUrl(a.name)};TableEndpoint=${tableUrl(a.name)};`
      );
    },
    close: () => {
      closed ??= stop();
      return closed;
    },
  };
}

/** SIGTERM (Azurite shuts down in ~200 ms), SIGKILL if it is still there after 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolveExit) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveExit();
    });
    child.kill('SIGTERM');
  });
}
