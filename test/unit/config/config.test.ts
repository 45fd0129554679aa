/**
 * Unit tests of `shared/config.ts`: loadSettings; validation limits; local.settings.json.example;
 * settingDefinitions.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  inspectSettings,
  loadSettings,
  settingDefinitions,
} from '../../../shared/config.js';
import { DEFAULT_VALIDATION_LIMITS } from '../../../shared/parquet/limits.js';
import { readmeSettingsTable, settingsTable } from '../../support/settingsTable.js';

/** The settings triggers read as %NAME%: the host needs them set, whatever the code's defaults. */
const bindings = {
  INBOX_CONTAINER: 'inbox',
  SWEEP_SCHEDULE: '0 */15 * * * *',
  RETENTION_SCHEDULE: '0 30 2 * * *',
};
const minimal = {
  TOMTOM_API_KEY: 'local-key-123456',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  ...bindings,
};

function problemsOf(env: Record<string, string>): ConfigurationError {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('loadSettings', () => {
  it('applies the documented defaults', () => {
    const settings = loadSettings(minimal);
    expect(settings.tomtom).toEqual({
      apiBaseUrl: 'https://api.tomtom.com',
      pdgBaseUrl: 'https://api.tomtom.com/maps/orbis/platform/private-gateway',
      gemBaseUrl: 'https://api.tomtom.com/maps/orbis/platform/gem',
      vaultUrl: 'https://hcp-vault.tomtomgroup.com',
      sendXVersion: true,
    });
    expect(settings.auth.gemTokenScope).toBe('https://gem.core.orbis.tomtom.com/.default');
    expect(settings.auth.apiKeyCacheTtlSeconds).toBe(300);
    expect(settings.durable.taskHubName).toBe('gemflow');
    expect(settings.storage.inboxContainer).toBe('inbox');
    expect(settings.storage.outboxContainer).toBe('outbox');
    expect(settings.workflow).toMatchObject({
      defaultJobType: 'ROAD_MATCHING',
      monitorInitialIntervalSeconds: 30,
      monitorMaxIntervalSeconds: 600,
      monitorBackoffFactor: 1.5,
      monitorDeadlineHours: 48,
      monitorPollsPerGeneration: 50,
      gemSegmentsPerHour: 100000,
      storageFanOutLimit: 4,
    });
    expect(settings.notify).toEqual({ signingSecret: { source: 'none' }, maxAttempts: 5, allowedHosts: [] });
  });

  it('accepts the alternative PDG path and treats empty strings as unset', () => {
    const settings = loadSettings({
      ...minimal,
      TOMTOM_PDG_BASE_PATH: '/maps/orbis/platform/pdg/',
      DEFAULT_STORAGE_ID: '',
    });
    expect(settings.tomtom.pdgBaseUrl).toBe('https://api.tomtom.com/maps/orbis/platform/pdg');
    expect(settings.workflow.defaultStorageId).toBeUndefined();
  });

  it('lists every problem at once, each with the setting name and what it should be', () => {
    const error = problemsOf({
      TOMTOM_API_BASE_URL: 'http://api.tomtom.com',
      MONITOR_BACKOFF_FACTOR: 'fast',
      TASKHUB_NAME: '1hub',
      DEFAULT_JOB_TYPE: 'POINT_MATCHING',
      TOKEN_CREDENTIAL: 'secret-sauce',
    });
    const settings = error.problems.map((problem) => problem.setting);
    expect(settings).toEqual(
      expect.arrayContaining([
        'TOMTOM_API_BASE_URL',
        'MONITOR_BACKOFF_FACTOR',
        'TASKHUB_NAME',
        'DEFAULT_JOB_TYPE',
        'TOKEN_CREDENTIAL',
        'TOMTOM_API_KEY / KEY_VAULT_URL',
        'AzureWebJobsStorage',
        'SWEEP_SCHEDULE',
        'RETENTION_SCHEDULE',
      ]),
    );
    expect(error.problems).toHaveLength(9);
    expect(error.message).toContain('TOMTOM_API_BASE_URL: must be an absolute https:// URL');
    expect(error.message).toContain('MONITOR_BACKOFF_FACTOR: must be a number between 1 and 10 (got "fast")');
    expect(error.message).toContain('TASKHUB_NAME: must be 3-45 letters and digits, starting with a letter');
    expect(error.message).toContain('9 problems');
  });

  it('rejects a 5-field cron expression with a hint to add the seconds field, disabling only the sweep', () => {
    const { settings, problems } = inspectSettings({ ...minimal, SWEEP_SCHEDULE: '*/15 * * * *' });
    expect(problems).toEqual([
      {
        setting: 'SWEEP_SCHEDULE',
        problem: expect.stringContaining('"*/15 * * * *" becomes "0 */15 * * * *"'),
        disables: 'sweep',
      },
    ]);
    // Only the timer reads it, so the app's code still gets its settings.
    expect(settings).toBeDefined();
    expect(() => loadSettings({ ...minimal, SWEEP_SCHEDULE: '*/15 * * * *' })).not.toThrow();
  });

  it('reports a binding setting left unset (no default reaches the trigger), without stopping the app', () => {
    const { settings, problems } = inspectSettings({
      TOMTOM_API_KEY: 'local-key-123456',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    });
    expect(problems.map((p) => [p.setting, p.disables])).toEqual([
      ['SWEEP_SCHEDULE', 'sweep'],
      ['RETENTION_SCHEDULE', 'retention'],
    ]);
    expect(problems[0]!.problem).toMatch(
      /^is not set, and the schedule of function "sweep" reads it as %SWEEP_SCHEDULE%.*e\.g\. to "0 \*\/15 \* \* \* \*"$/,
    );
    // The container is read by the code only (the Event Grid trigger has no path), so its default applies.
    expect(settings?.storage.inboxContainer).toBe('inbox');
  });

  it('reports every problem without throwing, and gives no settings when the code cannot run', () => {
    const { settings, problems } = inspectSettings({
      ...minimal,
      MONITOR_BACKOFF_FACTOR: 'abc',
      TOMTOM_API_KEY: '',
    });
    expect(settings).toBeUndefined();
    expect(problems.map((p) => p.setting)).toEqual([
      'MONITOR_BACKOFF_FACTOR',
      'TOMTOM_API_KEY / KEY_VAULT_URL',
    ]);
  });

  it('checks ranges and relations between settings', () => {
    const error = problemsOf({
      ...minimal,
      MONITOR_INITIAL_INTERVAL_SECONDS: '900',
      MONITOR_MAX_INTERVAL_SECONDS: '600',
      STORAGE_FANOUT_LIMIT: '0',
      DEFAULT_OVERTURE_RELEASE: '2026-01-21',
      DEFAULT_ORBIS_VERSION: 'v1',
      NOTIFY_SIGNING_SECRET_NAME: 'notify-key',
    });
    expect(error.problems.map((problem) => problem.setting).sort()).toEqual([
      'DEFAULT_ORBIS_VERSION',
      'DEFAULT_OVERTURE_RELEASE',
      'MONITOR_INITIAL_INTERVAL_SECONDS',
      'NOTIFY_SIGNING_SECRET_NAME',
      'STORAGE_FANOUT_LIMIT',
    ]);
  });

  it('never echoes a secret value in configuration errors', () => {
    const error = problemsOf({ ...minimal, NOTIFY_SIGNING_SECRET: 'tooShortSecret' });
    expect(error.message).toContain('NOTIFY_SIGNING_SECRET: must be at least 16 characters');
    expect(error.message).not.toContain('tooShortSecret');
  });

  it('reads the API key from Key Vault when no local key is set', () => {
    const settings = loadSettings({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      KEY_VAULT_URL: 'https://kv-gemflow.vault.azure.net/',
      KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION: 'false',
    });
    expect(settings.auth.apiKey).toEqual({
      source: 'key-vault',
      vaultUrl: 'https://kv-gemflow.vault.azure.net',
      secretName: 'tomtom-api-key',
    });
    expect(settings.auth.keyVault).toEqual({
      url: 'https://kv-gemflow.vault.azure.net',
      disableChallengeResourceVerification: false,
    });
  });

  it('exposes identity-based storage as its own variant', () => {
    const settings = loadSettings({
      TOMTOM_API_KEY: 'k-123456',
      AzureWebJobsStorage__blobServiceUri: 'https://stgemflow.blob.core.windows.net',
      AzureWebJobsStorage__queueServiceUri: 'https://stgemflow.queue.core.windows.net',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: '0b6a3f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    });
    expect(settings.storage).toMatchObject({
      kind: 'identity',
      blobServiceUri: 'https://stgemflow.blob.core.windows.net',
      credential: 'managedidentity',
      clientId: '0b6a3f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    });
  });

  it('resolves TOKEN_CREDENTIAL=auto from the platform identity endpoint', () => {
    expect(loadSettings(minimal).auth.tokenCredential).toBe('developer');
    expect(
      loadSettings({ ...minimal, IDENTITY_ENDPOINT: 'http://127.0.0.1:41000/msi/token' }).auth
        .tokenCredential,
    ).toBe('managed-identity');
    expect(
      loadSettings({ ...minimal, MSI_ENDPOINT: 'http://127.0.0.1:41000/msi' }).auth.tokenCredential,
    ).toBe('managed-identity');
    expect(
      loadSettings({ ...minimal, IDENTITY_ENDPOINT: 'http://127.0.0.1:1/x', TOKEN_CREDENTIAL: 'developer' })
        .auth.tokenCredential,
    ).toBe('developer');
  });

  it('returns a frozen object whose secrets stay hidden when logged', () => {
    const settings = loadSettings({ ...minimal, NOTIFY_SIGNING_SECRET: 'a-very-long-signing-secret' });
    expect(Object.isFrozen(settings.workflow)).toBe(true);
    const logged = `${JSON.stringify(settings)} ${inspect(settings, { depth: 10 })}`;
    expect(logged).not.toContain('local-key-123456');
    expect(logged).not.toContain('a-very-long-signing-secret');
    expect(logged).not.toContain('UseDevelopmentStorage');
    if (settings.auth.apiKey.source !== 'environment') throw new Error('expected the local key');
    expect(settings.auth.apiKey.apiKey.reveal()).toBe('local-key-123456');
  });
});

describe('validation limits', () => {
  it("default to the validator's own defaults, and reach settings.validation", () => {
    const { validation } = loadSettings(minimal);
    expect(validation).toEqual({
      maxFooterBytes: DEFAULT_VALIDATION_LIMITS.maxFooterBytes,
      maxRowGroupBytes: DEFAULT_VALIDATION_LIMITS.maxRowGroupBytes,
      maxRowBytes: DEFAULT_VALIDATION_LIMITS.maxRowBytes,
      maxValueBytes: DEFAULT_VALIDATION_LIMITS.maxValueBytes,
      maxRows: DEFAULT_VALIDATION_LIMITS.maxRows,
      batchRows: DEFAULT_VALIDATION_LIMITS.batchRows,
    });
    const raised = loadSettings({
      ...minimal,
      VALIDATION_MAX_ROWS: '20000000',
      VALIDATION_BATCH_ROWS: '1000',
    });
    expect(raised.validation).toMatchObject({ maxRows: 20_000_000, batchRows: 1000 });
  });

  it('refuse what is not a whole number in range, naming the setting', () => {
    const error = problemsOf({ ...minimal, VALIDATION_MAX_VALUE_BYTES: '1.5', VALIDATION_MAX_ROWS: '0' });
    expect(error.problems.map((p) => p.setting).sort()).toEqual([
      'VALIDATION_MAX_ROWS',
      'VALIDATION_MAX_VALUE_BYTES',
    ]);
  });
});

describe('local.settings.json.example', () => {
  const example = JSON.parse(readFileSync(join(__dirname, '../../../local.settings.json.example'), 'utf8'));
  const platformKeys = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsFeatureFlags']);

  it('lists exactly the settings the app reads (apart from platform-set ones)', () => {
    const exampleNames = Object.keys(example.Values)
      .filter((name) => !platformKeys.has(name))
      .sort();
    const definedNames = settingDefinitions
      .filter((definition) => !definition.setByPlatform)
      .map((definition) => definition.name)
      .sort();
    expect(exampleNames).toEqual(definedNames);
    expect(example.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(example.IsEncrypted).toBe(false);
  });

  it('sets every setting a trigger reads as %NAME%, since no default reaches a binding', () => {
    for (const { name } of settingDefinitions.filter((d) => d.binding)) {
      expect(example.Values[name], name).toBeTruthy();
    }
  });

  it('holds values that validate once an API key is filled in', () => {
    const settings = loadSettings({ ...example.Values, TOMTOM_API_KEY: 'filled-in-key' });
    expect(settings.storage.kind).toBe('connection-string');
  });
});

describe('settingDefinitions', () => {
  it('are the README settings table, row for row (UPDATE_README=1 rewrites it)', () => {
    const file = join(__dirname, '../../../README.md');
    const readme = readFileSync(file, 'utf8');
    const { start, end, table } = readmeSettingsTable(readme);
    const generated = settingsTable(settingDefinitions);
    if (process.env.UPDATE_README === '1' && table !== generated) {
      writeFileSync(file, `${readme.slice(0, start)}${generated}\n${readme.slice(end)}`);
      return;
    }
    expect(table, 'run UPDATE_README=1 npx vitest run test/unit/config/config.test.ts').toBe(generated);
  });

  it('describes every setting, and marks the ones holding secrets', () => {
    for (const definition of settingDefinitions) expect(definition.description.length).toBeGreaterThan(10);
    const secrets = settingDefinitions
      .filter((definition) => definition.secret)
      .map((definition) => definition.name);
    expect(secrets.sort()).toEqual(['AzureWebJobsStorage', 'NOTIFY_SIGNING_SECRET', 'TOMTOM_API_KEY']);
  });
});
