/**
 * A deployment on Azure as a target. The app URL and storage come from options, or from the azd environment
 * (`azd env get-values --output json`: SERVICE_API_URI, AZURE_STORAGE_ACCOUNT_NAME, INBOX_CONTAINER,
 * OUTBOX_CONTAINER, and AZURE_RESOURCE_GROUP / AZURE_FUNCTION_APP_NAME for the key; azure-dev
 * cli/azd/cmd/env.go offers the JSON format). The function key comes from `--key`, GEMFLOW_FUNCTION_KEY, or
 * `az functionapp keys list`, looked up only when a command calls the API. Storage is reached as the signed-in
 * user through `DefaultAzureCredential` (`az login`; the account accepts no shared keys, and provisioning gives
 * the deploying user a data role on it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { AppClient } from './appClient.js';
import { CommandFailedError } from './commandRunner.js';
import { CliError, EXIT, usageError } from './errors.js';
import type { ExplicitKey, Target, TargetClock, TargetContext } from './target.js';

export interface AzureTargetOptions {
  /** Read the app URL, storage account and containers from the azd environment (`--azd`). */
  azd?: boolean;
  /** The azd environment to read (`--azd-env`); default azd's selected one. */
  azdEnv?: string;
  appUrl?: string;
  storageAccount?: string;
  inboxContainer?: string;
  outboxContainer?: string;
}

export type AzdValues = Record<string, string>;

/** Azure's timestamps are real time. */
const realClock: TargetClock = { now: () => Date.now(), scale: 1 };

/** The values of `azd env get-values --output json`, or a CliError saying how to get an environment. */
export async function readAzdValues(context: TargetContext, environment?: string): Promise<AzdValues> {
  const args = ['env', 'get-values', '--output', 'json', '--no-prompt'];
  if (environment) args.push('--environment', environment);
  let stdout: string;
  try {
    ({ stdout } = await context.run('azd', args, context.cwd));
  } catch (cause) {
    const missing = cause instanceof CommandFailedError && cause.missing;
    throw new CliError(
      'AzdEnvironmentUnavailable',
      EXIT.connection,
      missing
        ? 'The Azure Developer CLI (azd) is not installed, so the deployment cannot be looked up.'
        : `azd could not read its environment: ${(cause as Error).message}`,
      {
        cause,
        remedy: 'Run `azd env select <name>` (or `azd up`) here, or pass --app-url and --storage-account.',
      },
    );
  }
  try {
    const values = JSON.parse(stdout) as unknown;
    if (typeof values === 'object' && values !== null) return values as AzdValues;
  } catch {
    // reported below
  }
  throw new CliError(
    'AzdEnvironmentUnreadable',
    EXIT.connection,
    '`azd env get-values` did not print JSON.',
    {
      remedy: 'Update azd (the JSON output needs a recent version), or pass --app-url and --storage-account.',
    },
  );
}

/** The command that prints the app's default function key, for messages (no key in it). */
export function keysListCommand(resourceGroup: string, app: string): string {
  return `az functionapp keys list --resource-group ${resourceGroup} --name ${app} --query functionKeys.default -o tsv`;
}

async function keyFromAz(context: TargetContext, values: AzdValues): Promise<string> {
  const group = values.AZURE_RESOURCE_GROUP;
  const app = values.AZURE_FUNCTION_APP_NAME;
  if (!group || !app) {
    throw new CliError(
      'FunctionKeyMissing',
      EXIT.connection,
      'No function key was given for the app on Azure.',
      {
        remedy:
          'Pass --key or set GEMFLOW_FUNCTION_KEY (the key is shown by `az functionapp keys list --resource-group <group> --name <app>`), or use --azd so gem-flow can look it up.',
      },
    );
  }
  const command = keysListCommand(group, app);
  try {
    const { stdout } = await context.run(
      'az',
      [
        'functionapp',
        'keys',
        'list',
        '--resource-group',
        group,
        '--name',
        app,
        '--query',
        'functionKeys.default',
        '-o',
        'tsv',
      ],
      context.cwd,
    );
    const key = stdout.trim();
    if (key) return key;
  } catch (cause) {
    throw new CliError(
      'FunctionKeyLookupFailed',
      EXIT.connection,
      `Could not read the function key with \`${command}\`.`,
      {
        cause,
        remedy:
          'Sign in with `az login` (with access to the function app), or pass --key / GEMFLOW_FUNCTION_KEY.',
      },
    );
  }
  throw new CliError(
    'FunctionKeyMissing',
    EXIT.connection,
    `\`${command}\` printed no default function key.`,
    {
      remedy: 'Create one in the portal (Function app → App keys) or pass --key.',
    },
  );
}

export async function resolveAzureTarget(
  options: AzureTargetOptions,
  explicitKey: ExplicitKey | undefined,
  context: TargetContext,
): Promise<Target> {
  const fromAzd =
    options.azd || ((!options.appUrl || !options.storageAccount) && existsSync(join(context.cwd, '.azure')));
  const values = fromAzd ? await readAzdValues(context, options.azdEnv) : {};
  const appUrl = options.appUrl ?? context.env.GEMFLOW_APP_URL ?? values.SERVICE_API_URI;
  const account =
    options.storageAccount ?? context.env.GEMFLOW_STORAGE_ACCOUNT ?? values.AZURE_STORAGE_ACCOUNT_NAME;
  if (!appUrl)
    throw usageError('No app URL for Azure.', 'Pass --app-url, or --azd in the folder `azd up` ran in.');
  if (!account) {
    throw usageError(
      'No storage account for Azure.',
      'Pass --storage-account, or --azd in the folder `azd up` ran in.',
    );
  }
  const group = values.AZURE_RESOURCE_GROUP ?? '<resource group>';
  const appName = values.AZURE_FUNCTION_APP_NAME ?? '<function app>';
  const unreachableRemedy = `Check the app URL (${appUrl}) and that the app is deployed and running (\`azd deploy\`).`;
  const app = new AppClient({
    baseUrl: appUrl,
    key: async () => explicitKey?.key ?? keyFromAz(context, values),
    keySource: {
      origin: explicitKey?.origin ?? `\`${keysListCommand(group, appName)}\``,
      remedy: `Get the app's current key with \`${keysListCommand(group, appName)}\` and pass it as --key (or GEMFLOW_FUNCTION_KEY).`,
    },
    unreachableRemedy,
    ...(context.fetch ? { fetch: context.fetch } : {}),
  });
  const blobs = new BlobServiceClient(
    `https://${account}.blob.core.windows.net`,
    new DefaultAzureCredential(),
  );
  return {
    kind: 'azure',
    description: `the app at ${appUrl} (storage account ${account})`,
    app,
    inbox: blobs.getContainerClient(options.inboxContainer ?? values.INBOX_CONTAINER ?? 'inbox'),
    outbox: blobs.getContainerClient(options.outboxContainer ?? values.OUTBOX_CONTAINER ?? 'outbox'),
    clock: realClock,
    unreachableRemedy,
  };
}
