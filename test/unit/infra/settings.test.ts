// The app settings infra/app/api.bicep gives the function app, checked against what the code reads
// (shared/config.ts settingDefinitions, validated by loadSettings) and what the platform reads.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, settingDefinitions } from '../../../shared/config.js';
import { readAppSettings } from './bicep.js';

const root = path.resolve(__dirname, '../../..');
const bicep = readAppSettings(path.join(root, 'infra/app/api.bicep'));
const setByBicep = new Set([...bicep.always.keys(), ...bicep.conditional]);
const definitions = new Map(settingDefinitions.map((d) => [d.name, d]));

/** Only for a laptop: stand-in endpoints, an API key or signing key in the environment. */
const LOCAL_ONLY = [
  'TOMTOM_API_KEY',
  'KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION',
  'AZURE_AUTHORITY_HOST',
  'PDG_DISABLE_INSTANCE_DISCOVERY',
  'NOTIFY_SIGNING_SECRET',
];
/** Never in Azure: a storage connection string carries the account key; identity is used instead. */
const NEVER_IN_AZURE = ['AzureWebJobsStorage'];
/**
 * No default by design, and optional in Azure too: a request can name them, or (PUBLIC_BASE_URL) the platform's
 * WEBSITE_HOSTNAME serves unless a custom domain fronts the app (descriptions say so).
 */
const OPTIONAL_IN_AZURE = [
  'DEFAULT_STORAGE_ID',
  'DEFAULT_OVERTURE_RELEASE',
  'DEFAULT_ORBIS_VERSION',
  'DEFAULT_OUTPUT_FORMAT',
  'PUBLIC_BASE_URL',
];
/** Read by the platform, not by shared/config.ts. */
const PLATFORM = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];
/** Deprecated or unsupported on Flex Consumption. */
const FLEX_DEPRECATED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_TIME_ZONE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
];

/** `%NAME%` references in host.json, resolved by the Functions host from app settings. */
function hostJsonReferences(): string[] {
  const text = readFileSync(path.join(root, 'host.json'), 'utf8');
  return [...new Set([...text.matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]))];
}

/** Realistic values for the settings whose Bicep value is an expression (evaluated only in Azure). */
const AZURE_SAMPLE: Record<string, string> = {
  AzureWebJobsStorage__blobServiceUri: 'https://stgemflowabc.blob.core.windows.net/',
  AzureWebJobsStorage__queueServiceUri: 'https://stgemflowabc.queue.core.windows.net/',
  AzureWebJobsStorage__tableServiceUri: 'https://stgemflowabc.table.core.windows.net/',
  AzureWebJobsStorage__clientId: '00000000-0000-4000-8000-000000000001',
  AZURE_CLIENT_ID: '00000000-0000-4000-8000-000000000001',
  TASKHUB_NAME: 'gemflowprod',
  INBOX_CONTAINER: 'inbox',
  OUTBOX_CONTAINER: 'outbox',
  ARCHIVE_CONTAINER: 'archive',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000002',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
    'ClientId=00000000-0000-4000-8000-000000000001;Authorization=AAD',
  GEM_TOKEN_SCOPE: 'https://gem.core.orbis.tomtom.com/.default',
  KEY_VAULT_URL: 'https://kv-gemflow-abc.vault.azure.net/',
  TOMTOM_API_KEY_SECRET_NAME: 'tomtom-api-key',
  NOTIFY_SIGNING_SECRET_NAME: 'notify-signing-secret',
  TOMTOM_API_BASE_URL: 'https://api.tomtom.com',
  DEFAULT_STORAGE_ID: 'storage-001',
  DEFAULT_OVERTURE_RELEASE: '2026-01-21.0',
};

/** The app settings as Azure would hold them: Bicep literals as written, expressions as samples. */
function azureEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of bicep.always) {
    const literal = /^'([^'\\$]*)'$/.exec(value);
    const sample = literal ? literal[1] : AZURE_SAMPLE[name];
    if (sample === undefined) throw new Error(`add a sample Azure value for ${name} (Bicep: ${value})`);
    env[name] = sample;
  }
  return env;
}

describe('infra app settings', () => {
  it('finds the settings block in infra/app/api.bicep', () => {
    expect(bicep.always.size).toBeGreaterThan(10);
    expect(bicep.always.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect([...bicep.conditional].sort()).toEqual(['DEFAULT_OVERTURE_RELEASE', 'DEFAULT_STORAGE_ID']);
  });

  it('sets every setting the app requires in Azure', () => {
    const required = settingDefinitions
      .filter((d) => d.default === undefined && !d.setByPlatform)
      .map((d) => d.name)
      .filter((name) => ![...LOCAL_ONLY, ...NEVER_IN_AZURE, ...OPTIONAL_IN_AZURE].includes(name));
    expect(required.length).toBeGreaterThan(0);
    const missing = required.filter((name) => !bicep.always.has(name));
    expect(missing, 'required in Azure but not set by infra/app/api.bicep').toEqual([]);
  });

  it('sets what host.json refers to (%NAME%) and the identity-based AzureWebJobsStorage connection', () => {
    const refs = hostJsonReferences();
    expect(refs).toContain('TASKHUB_NAME');
    for (const name of refs) expect(bicep.always.has(name), `host.json uses %${name}%`).toBe(true);
    for (const part of ['blobServiceUri', 'queueServiceUri', 'tableServiceUri', 'credential', 'clientId']) {
      expect(bicep.always.has(`AzureWebJobsStorage__${part}`), `AzureWebJobsStorage__${part}`).toBe(true);
    }
  });

  it('sets every setting a trigger reads as %NAME% (binding expressions take no default)', () => {
    const bound = settingDefinitions.filter((d) => d.binding).map((d) => d.name);
    // Every %NAME% in the function registrations is a defined binding setting.
    const functionsDir = path.join(root, 'functions');
    const referenced = readdirSync(functionsDir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [
        ...readFileSync(path.join(functionsDir, file), 'utf8').matchAll(/'%([A-Za-z0-9_]+)%/g),
      ])
      .map((m) => m[1]);
    expect(referenced).toEqual(expect.arrayContaining(['SWEEP_SCHEDULE']));
    for (const name of referenced) expect(bound, `%${name}% needs a binding definition`).toContain(name);
    for (const name of bound) expect(bicep.always.has(name), name).toBe(true);
  });

  it('sets nothing that neither the code nor the platform reads', () => {
    const readByPlatform = new Set([...PLATFORM, ...hostJsonReferences()]);
    const unread = [...setByBicep].filter(
      (name) =>
        !definitions.has(name) && !readByPlatform.has(name) && !name.startsWith('AzureWebJobsStorage__'),
    );
    expect(unread).toEqual([]);
  });

  it('sets no local-only setting, no secret and no connection string', () => {
    for (const name of [...LOCAL_ONLY, ...NEVER_IN_AZURE]) expect(setByBicep.has(name), name).toBe(false);
    for (const name of setByBicep)
      expect(definitions.get(name)?.secret ?? false, `${name} is a secret`).toBe(false);
    expect(bicep.text).not.toMatch(
      /AccountKey|SharedAccessSignature|DefaultEndpointsProtocol|listKeys|\bsecrets\//i,
    );
    expect(bicep.always.get('TOKEN_CREDENTIAL')).toBe("'managed-identity'");
  });

  it('sets none of the Flex Consumption deprecated settings', () => {
    for (const name of FLEX_DEPRECATED) expect(setByBicep.has(name), name).toBe(false);
  });

  it('gives a configuration the app accepts: Key Vault API key, identity storage, managed identity', () => {
    const settings = loadSettings(azureEnvironment());
    expect(settings.auth.apiKey).toEqual({
      source: 'key-vault',
      vaultUrl: expect.stringMatching(/^https:\/\/kv-gemflow-abc\.vault\.azure\.net\/?$/),
      secretName: 'tomtom-api-key',
    });
    expect(settings.auth.tokenCredential).toBe('managed-identity');
    expect(settings.auth.managedIdentityClientId).toBe(AZURE_SAMPLE.AZURE_CLIENT_ID);
    expect(JSON.stringify(settings)).toContain('"kind":"identity"');
    expect(JSON.stringify(settings)).toContain('notify-signing-secret');
  });

  it('the optional defaults, when given, are accepted too', () => {
    const env = { ...azureEnvironment() };
    for (const name of bicep.conditional) env[name] = AZURE_SAMPLE[name];
    expect(() => loadSettings(env)).not.toThrow();
  });
});
