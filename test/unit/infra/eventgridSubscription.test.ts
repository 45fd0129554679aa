// The inbox Event Grid subscription exists twice: on Azure the postdeploy hooks create it (scripts/post-deploy.sh
// and its PowerShell twin), locally the host's Event Grid stand-in reads local/subscriptions.ts. This test reads
// the `az eventgrid event-subscription create` call of both hooks, resolves its variables to their defaults, and
// checks that every argument says what the local definition says (and that Bicep creates its dead-letter
// container), so the subscription the tests exercise is the one Azure gets.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inboxSubscription } from '../../../local/subscriptions.js';
import { settingDefinitions } from '../../../shared/config.js';

const root = path.resolve(__dirname, '../../..');
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');

/** Values the hooks only learn on Azure, by the variable names each script uses. */
const AZURE_ONLY: Record<string, string> = {
  base_url: '<app url>',
  baseUrl: '<app url>',
  key: '<eventgrid_extension key>',
  storage_id: '<storage account id>',
  storageId: '<storage account id>',
};

interface Hook {
  file: string;
  /** Variable name → default value, from `x="${ENV:-default}"` / `x=value` or `$x = if ... else { 'default' }`. */
  variables: Record<string, string>;
  /** The create command's arguments, `--flag` → raw text. */
  flags: Map<string, string>;
}

function parseHook(file: string): Hook {
  const text = read(file);
  const variables: Record<string, string> = { ...AZURE_ONLY };
  // sh: x="${ENV:-default}", x="text", x=30; ps1: $x = if ($env:X) { $env:X } else { 'default' }, 'text', "text", 30.
  const assignments = file.endsWith('.sh')
    ? /^(\w+)=(?:"\$\{\w+:-([^}]*)\}"|"([^"\n]*)"|(\w+))$/gm
    : /^\$(\w+) = (?:if \(\$env:\w+\) \{ \$env:\w+ \} else \{ '([^']*)' \}|'([^']*)'|"([^"\n]*)"|(\d+))$/gm;
  for (const m of text.matchAll(assignments)) {
    const value = m.slice(2).find((group) => group !== undefined);
    if (value !== undefined && !(m[1]! in AZURE_ONLY)) variables[m[1]!] = value;
  }
  const command = /az eventgrid event-subscription create([\s\S]*?)--output none/.exec(text);
  if (!command) throw new Error(`${file} has no az eventgrid event-subscription create call`);
  const flags = new Map<string, string>();
  for (const m of command[1]!.matchAll(/(--[a-z-]+) ("[^"]*"|\S+)/g))
    flags.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
  return { file, variables, flags };
}

/** `$name` / `${name}` replaced by the variable's default (or the Azure-only placeholder), recursively. */
function resolve(hook: Hook, raw: string, depth = 0): string {
  if (depth > 5) throw new Error(`${hook.file}: variables refer to each other in a loop near ${raw}`);
  return raw.replace(/\$\{?(\w+)\}?/g, (whole, name: string) =>
    name in hook.variables ? resolve(hook, hook.variables[name]!, depth + 1) : whole,
  );
}

const hooks = ['scripts/post-deploy.sh', 'scripts/post-deploy.ps1'].map(parseHook);
const inboxDefault = settingDefinitions.find((d) => d.name === 'INBOX_CONTAINER')?.default;

describe.each(hooks)('$file creates the subscription local/subscriptions.ts describes', (hook) => {
  const arg = (flag: string) => {
    const raw = hook.flags.get(flag);
    if (raw === undefined) throw new Error(`${hook.file} does not pass ${flag}`);
    return resolve(hook, raw);
  };

  it('passes exactly the arguments of the local definition', () => {
    expect([...hook.flags.keys()].sort()).toEqual(
      [
        '--source-resource-id',
        '--name',
        '--endpoint-type',
        '--endpoint',
        '--included-event-types',
        '--subject-begins-with',
        '--event-delivery-schema',
        '--max-delivery-attempts',
        '--event-ttl',
        '--deadletter-identity',
        '--deadletter-identity-endpoint',
        // No --subject-ends-with: the local definition has none.
        ...(inboxSubscription.subjectEndsWith ? ['--subject-ends-with'] : []),
      ].sort(),
    );
  });

  it('names the subscription, the storage account topic and the function webhook', () => {
    expect(arg('--name')).toBe(inboxSubscription.name);
    expect(arg('--source-resource-id')).toBe('<storage account id>');
    expect(inboxSubscription.connection).toBe('AzureWebJobsStorage'); // the app's storage account is the source
    expect(arg('--endpoint-type')).toBe('webhook');
    expect(arg('--endpoint')).toBe(
      `<app url>/runtime/webhooks/eventgrid?functionName=${inboxSubscription.functionName}&code=<eventgrid_extension key>`,
    );
  });

  it('filters on the same event types and subject', () => {
    expect(arg('--included-event-types').split(/\s+/)).toEqual([...inboxSubscription.includedEventTypes]);
    expect(hook.variables.inbox).toBe(inboxDefault);
    expect(arg('--subject-begins-with')).toBe(
      inboxSubscription.subjectBeginsWith.replace('%INBOX_CONTAINER%', inboxDefault!),
    );
  });

  it('delivers the same schema with the same retry policy and dead-letter container', () => {
    expect(arg('--event-delivery-schema')).toBe(inboxSubscription.eventDeliverySchema);
    expect(Number(arg('--max-delivery-attempts'))).toBe(inboxSubscription.maxDeliveryAttempts);
    expect(Number(arg('--event-ttl'))).toBe(inboxSubscription.eventTimeToLiveInMinutes);
    expect(arg('--deadletter-identity')).toBe('systemassigned');
    expect(arg('--deadletter-identity-endpoint')).toBe(
      `<storage account id>/blobServices/default/containers/${inboxSubscription.deadLetterContainer}`,
    );
  });
});

describe('infra/main.bicep', () => {
  it('creates the dead-letter container the subscription writes to, and outputs its name to the hooks', () => {
    const main = read('infra/main.bicep');
    expect(main).toContain(`var deadLetterContainerName = '${inboxSubscription.deadLetterContainer}'`);
    expect(main).toMatch(/output EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName/);
    expect(main).toContain(
      `output EVENTGRID_TRIGGER_FUNCTION_NAME string = '${inboxSubscription.functionName}'`,
    );
  });
});
