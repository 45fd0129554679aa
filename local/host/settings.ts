/**
 * App settings as the host reads them: `%NAME%` references in binding and host.json values are resolved from
 * the environment (app settings), and host.json supplies the HTTP route prefix and Durable options.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A binding expression that does not resolve. The message is the WebJobs SDK's own
 * (Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/NameResolverExtensions.cs); `remedy` says where the
 * expression was and what to set.
 */
export class UnresolvedSettingError extends Error {
  constructor(
    message: string,
    readonly remedy: string,
  ) {
    super(message);
  }
}

/** An app setting by name, as .NET configuration reads it: case-insensitive, with `:` standing for `__`. */
function appSetting(env: Record<string, string | undefined>, name: string): string | undefined {
  if (name === '') return undefined;
  const key = name.replaceAll(':', '__');
  if (env[key] !== undefined) return env[key];
  const lower = key.toLowerCase();
  const match = Object.keys(env).find((candidate) => candidate.toLowerCase() === lower);
  return match === undefined ? undefined : env[match];
}

/**
 * Replaces each `%NAME%` with the app setting NAME, as the host's name resolver does: an unknown setting (or a
 * `%` without its closing `%`) throws, and the caller decides what fails — one function at indexing (Azure
 * disables just that function) or the host (host.json).
 */
export function resolveSettingReferences(
  text: string,
  env: Record<string, string | undefined>,
  where: string,
): string {
  let out = '';
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('%', at);
    if (open === -1) return out + text.slice(at);
    const close = text.indexOf('%', open + 1);
    if (close === -1) {
      throw new UnresolvedSettingError(
        `The '%' at position ${open} does not have a closing '%'.`,
        `Check ${where}: write %NAME% to refer to the app setting NAME.`,
      );
    }
    const name = text.slice(open + 1, close);
    const value = appSetting(env, name);
    if (value === undefined) {
      throw new UnresolvedSettingError(
        `'%${name}%' does not resolve to a value.`,
        `${where} refers to the app setting '${name}'; add it to the app settings ` +
          '(local.settings.json Values or the environment).',
      );
    }
    out += text.slice(at, open) + value;
    at = close + 1;
  }
  return out;
}

export interface HostJson {
  routePrefix: string;
  durable: {
    hubName: string;
    maxConcurrentActivityFunctions: number;
    maxConcurrentOrchestratorFunctions: number;
    connectionName: string;
  };
  raw: Record<string, unknown>;
}

interface RawHostJson {
  extensions?: {
    http?: { routePrefix?: string };
    durableTask?: {
      hubName?: string;
      maxConcurrentActivityFunctions?: number;
      maxConcurrentOrchestratorFunctions?: number;
      storageProvider?: { connectionName?: string; connectionStringName?: string };
    };
  };
}

/** Reads `<appRoot>/host.json` (missing file = defaults) and resolves `%NAME%` references. */
export async function readHostJson(
  appRoot: string,
  env: Record<string, string | undefined>,
): Promise<HostJson> {
  const file = join(appRoot, 'host.json');
  let raw: RawHostJson & Record<string, unknown> = {};
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`Cannot read ${file}: ${(error as Error).message}`);
    }
  }
  const durable = raw.extensions?.durableTask ?? {};
  const resolve = (value: string, what: string) => {
    try {
      return resolveSettingReferences(value, env, `${file} (${what})`);
    } catch (error) {
      if (!(error instanceof UnresolvedSettingError)) throw error;
      throw new Error(`${error.message} ${error.remedy}`);
    }
  };
  return {
    routePrefix: resolve(raw.extensions?.http?.routePrefix ?? 'api', 'extensions.http.routePrefix'),
    durable: {
      // The extension's default hub name for non-.NET apps running locally.
      hubName: resolve(durable.hubName ?? 'TestHubName', 'extensions.durableTask.hubName'),
      maxConcurrentActivityFunctions: durable.maxConcurrentActivityFunctions ?? 10,
      maxConcurrentOrchestratorFunctions: durable.maxConcurrentOrchestratorFunctions ?? 10,
      connectionName:
        durable.storageProvider?.connectionName ??
        durable.storageProvider?.connectionStringName ??
        'AzureWebJobsStorage',
    },
    raw,
  };
}
