/**
 * App settings as the host reads them: `%NAME%` references in binding and host.json values are resolved from
 * the environment (app settings), and host.json supplies the HTTP route prefix and Durable options.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Replaces each `%NAME%` with the setting NAME; an unknown setting is a start-up error, as in Azure. */
export function resolveSettingReferences(
  text: string,
  env: Record<string, string | undefined>,
  where: string,
): string {
  return text.replace(/%([^%\s]+)%/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined) {
      throw new Error(
        `The setting '${name}' referenced as '%${name}%' in ${where} is not defined; add it to the app settings ` +
          `(local.settings.json Values or the environment).`,
      );
    }
    return value;
  });
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
  const resolve = (value: string, what: string) => resolveSettingReferences(value, env, `${file} (${what})`);
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
