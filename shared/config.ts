/**
 * The app's settings: one definition per setting (`settingDefinitions`: name, default, description, schema)
 * from which the settings are parsed and checked all at once, and from which `local.settings.json.example`,
 * the README's settings table and the infra cross-check are derived. A bad value is reported with the setting
 * named and what to set instead; nothing reads `process.env` for the app's settings but this module.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { GemFlowError } from './errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from './formats/types.js';
import { JOB_TYPES, type JobType } from './jobTypes.js';
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from './parquet/limits.js';
import { SecretValue } from './secret.js';
import { allowListEntries, parseAllowList } from './workflow/callbackTarget.js';

/**
 * Every setting gem-flow reads, validated once. This module is the only reader of `process.env` in the app:
 * add a setting here (definition + schema) and it shows up in `settingDefinitions`, which drives
 * `local.settings.json.example`, the README table and the infra cross-check.
 */

export interface SettingDefinition {
  readonly name: string;
  readonly description: string;
  /** Used when the variable is unset or empty. */
  readonly default?: string;
  /** Never echoed in errors; shown as `[redacted]` when logged. */
  readonly secret?: boolean;
  /** Value suggested for local development in `local.settings.json.example`. */
  readonly example?: string;
  /** Set by the hosting platform (not by the operator), so absent from `local.settings.json.example`. */
  readonly setByPlatform?: boolean;
  /**
   * Read by a trigger binding as `%NAME%`. The Functions host resolves binding expressions from app settings
   * alone, so `default` (if any) serves the app's code only: unset, the host disables that one function.
   */
  readonly binding?: {
    /** The function whose trigger reads it. */
    readonly function: string;
    /** The trigger property, e.g. `schedule`, `path`. */
    readonly property: string;
    /** True when only the binding reads it: a problem with it disables that function, never the app's code. */
    readonly only?: boolean;
  };
}

// Settings arrive as strings; an empty string (as in local.settings.json.example) means "not set".
type Schema = z.ZodType<unknown, string>;

interface DefinitionInput extends Omit<SettingDefinition, 'name'> {
  readonly schema: Schema;
}

function define<const D extends DefinitionInput>(definition: D): D {
  return definition;
}

const httpsUrl = (why: string) =>
  z
    .string()
    .refine((value) => URL.canParse(value) && new URL(value).protocol === 'https:', {
      error: `must be an absolute https:// URL (${why})`,
    })
    .transform((value) => value.replace(/\/+$/, ''));

const absoluteUrl = z
  .string()
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
    error: 'must be an absolute http(s):// URL',
  })
  .transform((value) => value.replace(/\/+$/, ''));

/**
 * `PUBLIC_BASE_URL`: an origin with an optional path prefix (an API gateway may mount the app under one), and
 * nothing a URL built on it could not carry: no user info, query or fragment.
 */
const publicBaseUrl = z
  .string()
  .refine(
    (value) => {
      if (!URL.canParse(value)) return false;
      const url = new URL(value);
      return /^https?:$/.test(url.protocol) && !url.username && !url.password && !url.search && !url.hash;
    },
    {
      error:
        'must be an absolute http(s):// URL without user info, query or fragment, e.g. https://api.contoso.com',
    },
  )
  .transform((value) => value.replace(/\/+$/, ''));

/** `WEBSITE_HOSTNAME` as App Service sets it: a host name, optionally with a port (`localhost:7071`). */
const hostAndPort = z
  .string()
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/, {
    error: 'must be a host name with an optional port, e.g. func-gemflow.azurewebsites.net',
  });

const urlPath = z
  .string()
  .regex(/^\/[A-Za-z0-9/_.-]*$/, {
    error: 'must be a URL path starting with "/", e.g. /maps/orbis/platform/gem',
  })
  .transform((value) => value.replace(/\/+$/, ''));

const flag = z.stringbool({ error: 'must be true or false' });

const integer = (min: number, max: number) =>
  z.coerce
    .number<string>({ error: `must be a whole number between ${min} and ${max}` })
    .int({ error: `must be a whole number between ${min} and ${max}` })
    .min(min, { error: `must be a whole number between ${min} and ${max}` })
    .max(max, { error: `must be a whole number between ${min} and ${max}` });

const decimal = (min: number, max: number) =>
  z.coerce
    .number<string>({ error: `must be a number between ${min} and ${max}` })
    .min(min, { error: `must be a number between ${min} and ${max}` })
    .max(max, { error: `must be a number between ${min} and ${max}` });

const keyVaultSecretName = z.string().regex(/^[0-9A-Za-z-]{1,127}$/, {
  error: 'must be a Key Vault secret name (1-127 letters, digits, hyphens)',
});

// Azure blob container naming rules.
const containerName = z.string().regex(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, {
  error: 'must be a blob container name: 3-63 lowercase letters, digits and single hyphens',
});

const uuidLike = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
    error: 'must be a client id (GUID)',
  });

const ncrontab = z.string().superRefine((value, ctx) => {
  const fields = value.trim().split(/\s+/).length;
  if (fields !== 6) {
    ctx.addIssue({
      code: 'custom',
      message:
        fields === 5
          ? 'has 5 fields, but Azure Functions timers use 6-field NCRONTAB with seconds first; e.g. "*/15 * * * *" becomes "0 */15 * * * *"'
          : `must be a 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}), got ${fields} fields`,
    });
    return;
  }
  try {
    new Cron(value, { paused: true }).stop();
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `is not a valid NCRONTAB expression (${(error as Error).message})`,
    });
  }
});

/** `NOTIFY_ALLOWED_HOSTS`: checked here with the same parser the callback rules use, kept as the entries. */
const allowedHosts = z
  .string()
  .superRefine((value, ctx) => {
    const { problems } = parseAllowList(value);
    if (problems.length > 0) ctx.addIssue({ code: 'custom', message: problems.join('; ') });
  })
  .transform(allowListEntries);

const definitions = {
  TOMTOM_API_BASE_URL: define({
    description: 'Host of the TomTom REST APIs (PDG and GEM).',
    default: 'https://api.tomtom.com',
    schema: httpsUrl('bearer tokens are only sent over TLS'),
  }),
  TOMTOM_PDG_BASE_PATH: define({
    description:
      'Path of the Private Data Gateway API; TomTom documents both this and /maps/orbis/platform/pdg.',
    default: '/maps/orbis/platform/private-gateway',
    schema: urlPath,
  }),
  TOMTOM_GEM_BASE_PATH: define({
    description: 'Path of the GEM job API.',
    default: '/maps/orbis/platform/gem',
    schema: urlPath,
  }),
  TOMTOM_VAULT_URL: define({
    description: 'HashiCorp Vault that unwraps the single-use storage credentials returned by PDG.',
    default: 'https://hcp-vault.tomtomgroup.com',
    schema: httpsUrl('the wrapped token is a secret'),
  }),
  TOMTOM_SEND_X_VERSION: define({
    description:
      'Send "X-Version: 1" on TomTom requests (required by the older API pages, ignored by newer ones).',
    default: 'true',
    schema: flag,
  }),
  TOMTOM_API_KEY: define({
    description:
      'TomTom API key for local development (products: Orbis Private Data Gateway API and Orbis GEM API). In Azure leave it empty and use KEY_VAULT_URL.',
    secret: true,
    example: '',
    schema: z.string(),
  }),
  KEY_VAULT_URL: define({
    description: 'Key Vault holding the TomTom API key (and optionally the callback signing secret).',
    example: '',
    schema: httpsUrl('Key Vault only serves HTTPS'),
  }),
  TOMTOM_API_KEY_SECRET_NAME: define({
    description: 'Name of the Key Vault secret holding the TomTom API key.',
    default: 'tomtom-api-key',
    schema: keyVaultSecretName,
  }),
  API_KEY_CACHE_TTL_SECONDS: define({
    description: 'How long the API key read from Key Vault is reused before it is read again.',
    default: '300',
    schema: integer(0, 86_400),
  }),
  KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION: define({
    description:
      'Skip the Key Vault check that the challenge resource matches the vault host. Only for a local vault at https://127.0.0.1:<port>.',
    default: 'false',
    schema: flag,
  }),
  GEM_TOKEN_SCOPE: define({
    description:
      'Entra scope of the bearer token sent to TomTom. Managed identity needs ".default"; the az CLI flow TomTom documents uses https://gem.core.orbis.tomtom.com/user_impersonation.',
    default: 'https://gem.core.orbis.tomtom.com/.default',
    schema: z
      .string()
      .regex(/^\S+$/, { error: 'must be a single scope, e.g. https://gem.core.orbis.tomtom.com/.default' }),
  }),
  AZURE_CLIENT_ID: define({
    description: 'Client id of the user-assigned managed identity. Empty means the system-assigned identity.',
    example: '',
    schema: uuidLike,
  }),
  TOKEN_CREDENTIAL: define({
    description:
      'Where bearer tokens come from: managed-identity, developer (az login / azd auth login), or auto (managed identity when the platform provides an identity endpoint).',
    default: 'auto',
    schema: z.enum(['auto', 'managed-identity', 'developer'], {
      error: 'must be one of auto, managed-identity, developer',
    }),
  }),
  IDENTITY_ENDPOINT: define({
    description:
      'Managed-identity endpoint, set by App Service / Functions; its presence selects managed identity.',
    setByPlatform: true,
    schema: absoluteUrl,
  }),
  MSI_ENDPOINT: define({
    description:
      'Legacy managed-identity endpoint, set by older App Service hosts; its presence selects managed identity.',
    setByPlatform: true,
    schema: absoluteUrl,
  }),
  WEBSITE_HOSTNAME: define({
    description:
      "The app's default host name, set by App Service / Functions. The app's own URLs (statusUrl, cancelUrl, Location) start with https://<WEBSITE_HOSTNAME> (http for localhost:<port>) unless PUBLIC_BASE_URL is set.",
    setByPlatform: true,
    schema: hostAndPort,
  }),
  PUBLIC_BASE_URL: define({
    description:
      "Where clients reach the app when not at https://<WEBSITE_HOSTNAME> (a custom domain or gateway, e.g. https://api.contoso.com); the app's own URLs start with it. They are never built from a request's Host header.",
    example: '',
    schema: publicBaseUrl,
  }),
  AZURE_AUTHORITY_HOST: define({
    description: 'Entra authority used by the PDG storage service principal. Empty means Azure public cloud.',
    example: '',
    schema: absoluteUrl,
  }),
  PDG_DISABLE_INSTANCE_DISCOVERY: define({
    description:
      'Skip Entra instance discovery for the PDG service principal. Must be true when AZURE_AUTHORITY_HOST is a local stand-in.',
    default: 'false',
    schema: flag,
  }),
  AzureWebJobsStorage: define({
    description:
      'Connection string of the app storage account (inbox, outbox, task hub). Leave empty to use identity-based settings.',
    secret: true,
    example: 'UseDevelopmentStorage=true',
    schema: z.string(),
  }),
  AzureWebJobsStorage__blobServiceUri: define({
    description: 'Blob endpoint of the app storage account, for identity-based connections.',
    example: '',
    schema: absoluteUrl,
  }),
  AzureWebJobsStorage__queueServiceUri: define({
    description: 'Queue endpoint of the app storage account, for identity-based connections.',
    example: '',
    schema: absoluteUrl,
  }),
  AzureWebJobsStorage__tableServiceUri: define({
    description: 'Table endpoint of the app storage account, for identity-based connections.',
    example: '',
    schema: absoluteUrl,
  }),
  AzureWebJobsStorage__credential: define({
    description: 'Set to "managedidentity" for identity-based storage connections.',
    example: '',
    schema: z.literal('managedidentity', { error: 'must be "managedidentity"' }),
  }),
  AzureWebJobsStorage__clientId: define({
    description: 'Client id of the user-assigned identity used for identity-based storage connections.',
    example: '',
    schema: uuidLike,
  }),
  TASKHUB_NAME: define({
    description: 'Durable task hub name (host.json refers to it as %TASKHUB_NAME%).',
    default: 'gemflow',
    schema: z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, {
      error: 'must be 3-45 letters and digits, starting with a letter',
    }),
  }),
  INBOX_CONTAINER: define({
    description: 'Container where road datasets arrive.',
    default: 'inbox',
    schema: containerName,
  }),
  OUTBOX_CONTAINER: define({
    description: 'Container where results, summaries and validation reports are written.',
    default: 'outbox',
    schema: containerName,
  }),
  ARCHIVE_CONTAINER: define({
    description:
      'Container that receives inbox files whose match the retention timer purged, as <match id>/<name>. Never the inbox or the outbox.',
    default: 'archive',
    schema: containerName,
  }),
  DEFAULT_STORAGE_ID: define({
    description: 'PDG storage used when a request names none. Empty means requests must name one.',
    example: '',
    schema: z.string().regex(/^\S+$/, { error: 'must not contain spaces' }),
  }),
  DEFAULT_JOB_TYPE: define({
    description: 'GEM job type used when a request names none.',
    default: 'ROAD_MATCHING',
    schema: z.enum(JOB_TYPES, { error: 'must be ROAD_MATCHING or LANE_LEVEL_MATCHING' }),
  }),
  DEFAULT_OVERTURE_RELEASE: define({
    description: 'Overture release for ROAD_MATCHING jobs when a request names none (format YYYY-MM-DD.N).',
    example: '',
    schema: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}\.\d+$/, { error: 'must look like YYYY-MM-DD.N, e.g. 2026-01-21.0' }),
  }),
  DEFAULT_ORBIS_VERSION: define({
    description:
      'Orbis map version for LANE_LEVEL_MATCHING jobs when a request names none (<LAYER_ID>.<REVISION>).',
    example: '',
    schema: z.string().regex(/^\d+\.\d+$/, { error: 'must look like <digits>.<digits>, e.g. 123456.1' }),
  }),
  DEFAULT_OUTPUT_FORMAT: define({
    description:
      "Format of the enriched output when a request names none (geoparquet, geojson, csv, flatgeobuf, geopackage). Empty: the input's own format.",
    example: '',
    schema: z.enum(OUTPUT_FORMATS, { error: `must be one of ${OUTPUT_FORMATS.join(', ')}` }),
  }),
  MONITOR_INITIAL_INTERVAL_SECONDS: define({
    description: 'First wait between job status polls.',
    default: '30',
    schema: integer(1, 86_400),
  }),
  MONITOR_MAX_INTERVAL_SECONDS: define({
    description: 'Longest wait between job status polls.',
    default: '600',
    schema: integer(1, 86_400),
  }),
  MONITOR_BACKOFF_FACTOR: define({
    description: 'Factor by which the poll interval grows after each poll.',
    default: '1.5',
    schema: decimal(1, 10),
  }),
  MONITOR_DEADLINE_HOURS: define({
    description: 'Give up following a job after this many hours.',
    default: '48',
    schema: decimal(0.01, 24 * 30),
  }),
  MONITOR_POLLS_PER_GENERATION: define({
    description: 'Polls before the monitor restarts itself (continueAsNew) to keep its history small.',
    default: '50',
    schema: integer(1, 1_000),
  }),
  GEM_INCREMENTAL: define({
    description:
      'Whether a road-matching run of an inbox file is incremental when its request does not say: only the rows new or changed since the last completed run of the same inbox name go to GEM, the rest of the results are carried over.',
    default: 'false',
    schema: flag,
  }),
  GEM_SEGMENTS_PER_HOUR: define({
    description: 'GEM throughput used to estimate job duration.',
    default: '100000',
    schema: integer(1, 1_000_000_000),
  }),
  GEM_MAX_ROADS_PER_JOB: define({
    description:
      'A prepared input with more roads than this is split into spatially coherent parts, one GEM job each. Default: about 2.5 h of GEM at 100,000 roads/h.',
    default: '250000',
    schema: integer(1_000, 1_000_000_000),
  }),
  GEM_MAX_PARALLEL_JOBS: define({
    description:
      "Most GEM jobs of one partitioned match running at once; the effective window shrinks when TomTom refuses a job (429) and grows back after each part's success.",
    default: '4',
    schema: integer(1, 64),
  }),
  GEM_PART_ATTEMPTS: define({
    description:
      'Jobs one part of a partitioned match may use: a part whose job FAILED or timed out is submitted again until this many; then the match fails.',
    default: '3',
    schema: integer(1, 10),
  }),
  SWEEP_SCHEDULE: define({
    description:
      'When the reconciliation sweep runs (6-field NCRONTAB, seconds first, UTC), e.g. "0 */15 * * * *". Required: the sweep timer reads it as %SWEEP_SCHEDULE% (no default).',
    example: '0 */15 * * * *',
    binding: { function: 'sweep', property: 'schedule', only: true },
    schema: ncrontab,
  }),
  MATCH_RETENTION_DAYS: define({
    description:
      'Days a finished match stays in the task hub before the retention timer purges it and archives its inbox file (fractions allowed). Outbox documents are kept.',
    default: '30',
    schema: decimal(0.01, 3650),
  }),
  RETENTION_SCHEDULE: define({
    description:
      'When the retention timer runs (6-field NCRONTAB, seconds first, UTC), e.g. "0 30 2 * * *". Required: the retention timer reads it as %RETENTION_SCHEDULE% (no default).',
    example: '0 30 2 * * *',
    binding: { function: 'retention', property: 'schedule', only: true },
    schema: ncrontab,
  }),
  STORAGE_FANOUT_LIMIT: define({
    description: 'How many PDG storages the sweep inspects in parallel.',
    default: '4',
    schema: integer(1, 64),
  }),
  VALIDATION_MAX_FOOTER_BYTES: define({
    description:
      'Largest Parquet footer (file metadata) validation reads; a larger one is a footer-size finding. It grows with row groups × columns.',
    default: String(DEFAULT_VALIDATION_LIMITS.maxFooterBytes),
    schema: integer(1024, 1024 ** 3),
  }),
  VALIDATION_MAX_ROW_GROUP_BYTES: define({
    description:
      'Largest stored size of the id, geometry and is_navigable column chunks of one row group, held while it is read; a quarter of it is the largest decompressed page. Larger is a row-group-size or page-size finding.',
    default: String(DEFAULT_VALIDATION_LIMITS.maxRowGroupBytes),
    schema: integer(1024 * 1024, 1024 ** 3),
  }),
  VALIDATION_MAX_ROW_BYTES: define({
    description:
      "Largest size of one row's id, geometry and is_navigable together; larger is a row-size finding.",
    default: String(DEFAULT_VALIDATION_LIMITS.maxRowBytes),
    schema: integer(1024, 1024 ** 3),
  }),
  VALIDATION_MAX_VALUE_BYTES: define({
    description: "Largest size of one value (an id, or a geometry's WKT); larger is a value-size finding.",
    default: String(DEFAULT_VALIDATION_LIMITS.maxValueBytes),
    schema: integer(1024, 1024 ** 3),
  }),
  VALIDATION_MAX_ROWS: define({
    description: 'Most rows an input file may have; more is a row-limit finding (split the file).',
    default: String(DEFAULT_VALIDATION_LIMITS.maxRows),
    schema: integer(1, 1_000_000_000),
  }),
  VALIDATION_BATCH_ROWS: define({
    description: 'Rows validation decodes at once.',
    default: String(DEFAULT_VALIDATION_LIMITS.batchRows),
    schema: integer(1, 1_000_000),
  }),
  NOTIFY_SIGNING_SECRET: define({
    description:
      'HMAC key for signing result callbacks, for local development. Without it (or a secret name) callbacks are refused.',
    secret: true,
    example: '',
    schema: z.string().min(16, { error: 'must be at least 16 characters' }),
  }),
  NOTIFY_SIGNING_SECRET_NAME: define({
    description: 'Name of the Key Vault secret holding the callback signing key (needs KEY_VAULT_URL).',
    example: '',
    schema: keyVaultSecretName,
  }),
  NOTIFY_MAX_ATTEMPTS: define({
    description: 'Delivery attempts for a result callback before giving up.',
    default: '5',
    schema: integer(1, 20),
  }),
  NOTIFY_ALLOWED_HOSTS: define({
    description:
      'Callback hosts admitted beyond the public internet: host names, IP addresses or CIDR ranges, comma-separated. A listed host may be called over http and at private addresses, and may be named in blob metadata (callbackurl). Empty: https to public addresses only.',
    example: '127.0.0.1',
    schema: allowedHosts,
  }),
} as const;

export type SettingName = keyof typeof definitions;

/** Every environment variable the app reads, with its meaning and default. */
export const settingDefinitions: readonly SettingDefinition[] = Object.freeze(
  Object.entries(definitions).map(([name, { schema: _schema, ...rest }]) => Object.freeze({ name, ...rest })),
);

type Definitions = typeof definitions;
type ParsedSettingValues = {
  [K in SettingName]: Definitions[K] extends { default: string }
    ? z.output<Definitions[K]['schema']>
    : z.output<Definitions[K]['schema']> | undefined;
};

export type ApiKeySource =
  | { readonly source: 'environment'; readonly apiKey: SecretValue }
  | { readonly source: 'key-vault'; readonly vaultUrl: string; readonly secretName: string };

export type StorageConnection =
  | { readonly kind: 'connection-string'; readonly connectionString: SecretValue }
  | {
      readonly kind: 'identity';
      readonly blobServiceUri: string;
      readonly queueServiceUri: string | undefined;
      readonly tableServiceUri: string | undefined;
      readonly credential: 'managedidentity' | undefined;
      readonly clientId: string | undefined;
    };

export type SigningSecretSource =
  | { readonly source: 'environment'; readonly secret: SecretValue }
  | { readonly source: 'key-vault'; readonly vaultUrl: string; readonly secretName: string }
  | { readonly source: 'none' };

export type TokenCredentialKind = 'managed-identity' | 'developer';

export interface Settings {
  readonly tomtom: {
    readonly apiBaseUrl: string;
    readonly pdgBaseUrl: string;
    readonly gemBaseUrl: string;
    readonly vaultUrl: string;
    readonly sendXVersion: boolean;
  };
  readonly auth: {
    readonly apiKey: ApiKeySource;
    readonly apiKeyCacheTtlSeconds: number;
    readonly keyVault:
      | { readonly url: string; readonly disableChallengeResourceVerification: boolean }
      | undefined;
    readonly gemTokenScope: string;
    /** `TOKEN_CREDENTIAL` with `auto` already resolved. */
    readonly tokenCredential: TokenCredentialKind;
    readonly managedIdentityClientId: string | undefined;
    readonly servicePrincipal: {
      readonly authorityHost: string | undefined;
      readonly disableInstanceDiscovery: boolean;
    };
  };
  /** The app's own storage account (the Functions host's) and the containers it uses there. */
  readonly storage: StorageConnection & {
    readonly inboxContainer: string;
    readonly outboxContainer: string;
    readonly archiveContainer: string;
  };
  readonly durable: { readonly taskHubName: string };
  readonly http: {
    /**
     * Where the app's own URLs (statusUrl, cancelUrl, Location) start: `PUBLIC_BASE_URL`, else the origin of
     * `WEBSITE_HOSTNAME`; undefined when neither is set (the handlers then answer relative URLs).
     */
    readonly publicBaseUrl: string | undefined;
  };
  readonly workflow: {
    readonly defaultStorageId: string | undefined;
    readonly defaultJobType: JobType;
    readonly defaultOvertureRelease: string | undefined;
    readonly defaultOrbisVersion: string | undefined;
    /** `DEFAULT_OUTPUT_FORMAT`; undefined means the enriched output follows the input's format. */
    readonly defaultOutputFormat: OutputFormat | undefined;
    readonly monitorInitialIntervalSeconds: number;
    readonly monitorMaxIntervalSeconds: number;
    readonly monitorBackoffFactor: number;
    readonly monitorDeadlineHours: number;
    /** Polls per orchestration generation; the monitor calls continueAsNew after this many. */
    readonly monitorPollsPerGeneration: number;
    readonly gemSegmentsPerHour: number;
    /** `GEM_INCREMENTAL`: runs are incremental unless their request says otherwise. */
    readonly incremental: boolean;
    readonly gemMaxRoadsPerJob: number;
    readonly gemMaxParallelJobs: number;
    readonly gemPartAttempts: number;
    readonly storageFanOutLimit: number;
    readonly matchRetentionDays: number;
  };
  /** Bounds on what input validation reads and holds (shared/parquet/limits.ts). */
  readonly validation: Pick<
    ValidationLimits,
    'maxFooterBytes' | 'maxRowGroupBytes' | 'maxRowBytes' | 'maxValueBytes' | 'maxRows' | 'batchRows'
  >;
  readonly notify: {
    readonly signingSecret: SigningSecretSource;
    readonly maxAttempts: number;
    /** `NOTIFY_ALLOWED_HOSTS` entries, as written; `parseAllowList` turns them into the rules' allow-list. */
    readonly allowedHosts: readonly string[];
  };
}

export interface ConfigurationProblem {
  /** The setting (or settings, joined with " / ") at fault. */
  readonly setting: string;
  readonly problem: string;
  /**
   * The one function this problem disables (its trigger reads the setting as `%NAME%`), when it does not stop
   * the app's code; absent for problems that make every function fail.
   */
  readonly disables?: string;
}

export class ConfigurationError extends GemFlowError {
  readonly code = 'ConfigurationError';
  readonly problems: readonly ConfigurationProblem[];

  constructor(problems: readonly ConfigurationProblem[]) {
    const lines = problems.map(({ setting, problem }) => `  - ${setting}: ${problem}`);
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      {
        remedy:
          '\nSet these as app settings in Azure or in local.settings.json locally; see the Settings section of the README.',
      },
    );
    this.problems = problems;
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

function unsetBinding(name: string, definition: DefinitionInput): ConfigurationProblem {
  const binding = definition.binding!;
  const suggestion = definition.example ?? definition.default;
  return {
    setting: name,
    problem:
      `is not set, and the ${binding.property} of function "${binding.function}" reads it as %${name}%: the ` +
      'Functions host resolves binding expressions from app settings alone (no default applies), so it ' +
      `disables that function until the setting is set${suggestion ? `, e.g. to "${suggestion}"` : ''}`,
    disables: binding.function,
  };
}

function parseEachSetting(env: Environment, problems: ConfigurationProblem[]): ParsedSettingValues {
  const parsed: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(definitions) as [SettingName, DefinitionInput][]) {
    const provided = env[name]?.trim();
    // The default serves the app's code; the host's binding never sees it.
    if (!provided && definition.binding) problems.push(unsetBinding(name, definition));
    const raw = provided ? provided : definition.default;
    if (raw === undefined) continue;
    const result = definition.schema.safeParse(raw);
    if (result.success) {
      parsed[name] = result.data;
    } else {
      const shown = definition.secret ? '' : ` (got "${raw}")`;
      problems.push({
        setting: name,
        problem: `${result.error.issues[0]?.message ?? 'is invalid'}${shown}`,
        ...(definition.binding?.only ? { disables: definition.binding.function } : {}),
      });
    }
  }
  return parsed as ParsedSettingValues;
}

function resolveApiKey(values: ParsedSettingValues, problems: ConfigurationProblem[]): ApiKeySource {
  if (values.TOMTOM_API_KEY) return { source: 'environment', apiKey: new SecretValue(values.TOMTOM_API_KEY) };
  if (values.KEY_VAULT_URL) {
    return {
      source: 'key-vault',
      vaultUrl: values.KEY_VAULT_URL,
      secretName: values.TOMTOM_API_KEY_SECRET_NAME,
    };
  }
  problems.push({
    setting: 'TOMTOM_API_KEY / KEY_VAULT_URL',
    problem:
      'no API key source: set KEY_VAULT_URL (the key is read from secret TOMTOM_API_KEY_SECRET_NAME) or, for local development, TOMTOM_API_KEY',
  });
  return { source: 'environment', apiKey: new SecretValue('') };
}

function resolveStorage(values: ParsedSettingValues, problems: ConfigurationProblem[]): StorageConnection {
  if (values.AzureWebJobsStorage) {
    return { kind: 'connection-string', connectionString: new SecretValue(values.AzureWebJobsStorage) };
  }
  const identityParts = [
    values.AzureWebJobsStorage__queueServiceUri,
    values.AzureWebJobsStorage__tableServiceUri,
    values.AzureWebJobsStorage__credential,
    values.AzureWebJobsStorage__clientId,
  ];
  if (!values.AzureWebJobsStorage__blobServiceUri) {
    problems.push({
      setting: identityParts.some(Boolean) ? 'AzureWebJobsStorage__blobServiceUri' : 'AzureWebJobsStorage',
      problem: identityParts.some(Boolean)
        ? 'identity-based storage settings are present but the blob endpoint is missing'
        : 'no storage account: set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__blobServiceUri with AzureWebJobsStorage__credential=managedidentity',
    });
    return { kind: 'connection-string', connectionString: new SecretValue('') };
  }
  return {
    kind: 'identity',
    blobServiceUri: values.AzureWebJobsStorage__blobServiceUri,
    queueServiceUri: values.AzureWebJobsStorage__queueServiceUri,
    tableServiceUri: values.AzureWebJobsStorage__tableServiceUri,
    credential: values.AzureWebJobsStorage__credential,
    clientId: values.AzureWebJobsStorage__clientId,
  };
}

function resolveSigningSecret(
  values: ParsedSettingValues,
  problems: ConfigurationProblem[],
): SigningSecretSource {
  if (values.NOTIFY_SIGNING_SECRET)
    return { source: 'environment', secret: new SecretValue(values.NOTIFY_SIGNING_SECRET) };
  if (!values.NOTIFY_SIGNING_SECRET_NAME) return { source: 'none' };
  if (!values.KEY_VAULT_URL) {
    problems.push({
      setting: 'NOTIFY_SIGNING_SECRET_NAME',
      problem: 'names a Key Vault secret, but KEY_VAULT_URL is not set',
    });
    return { source: 'none' };
  }
  return {
    source: 'key-vault',
    vaultUrl: values.KEY_VAULT_URL,
    secretName: values.NOTIFY_SIGNING_SECRET_NAME,
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof SecretValue)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export interface SettingsInspection {
  /** The settings the app's code reads, or undefined when one of them has a problem. */
  readonly settings: Settings | undefined;
  /** Every problem, those of binding-only settings included (they disable one function, not the app). */
  readonly problems: readonly ConfigurationProblem[];
}

/**
 * Validates every setting without throwing: what `/api/health` reports. The settings are returned (grouped and
 * frozen) unless a setting the app's code reads is missing or invalid.
 */
export function inspectSettings(env: Environment = process.env): SettingsInspection {
  const problems: ConfigurationProblem[] = [];
  const values = parseEachSetting(env, problems);

  const apiKey = resolveApiKey(values, problems);
  const storage = resolveStorage(values, problems);
  const signingSecret = resolveSigningSecret(values, problems);

  if (values.MONITOR_INITIAL_INTERVAL_SECONDS > values.MONITOR_MAX_INTERVAL_SECONDS) {
    problems.push({
      setting: 'MONITOR_INITIAL_INTERVAL_SECONDS',
      problem: `must not exceed MONITOR_MAX_INTERVAL_SECONDS (${values.MONITOR_MAX_INTERVAL_SECONDS})`,
    });
  }
  const containers = [values.INBOX_CONTAINER, values.OUTBOX_CONTAINER];
  if (containers.includes(values.ARCHIVE_CONTAINER)) {
    problems.push({
      setting: 'ARCHIVE_CONTAINER',
      problem: `must differ from INBOX_CONTAINER and OUTBOX_CONTAINER (got "${values.ARCHIVE_CONTAINER}")`,
    });
  }
  if (values.AZURE_AUTHORITY_HOST?.startsWith('http:')) {
    problems.push({
      setting: 'AZURE_AUTHORITY_HOST',
      problem: 'must use https:// (Entra refuses plain HTTP authorities)',
    });
  }
  const blocking = problems.some((problem) => problem.disables === undefined);
  const settings = blocking ? undefined : buildSettings(values, { apiKey, storage, signingSecret });
  return { settings, problems };
}

/**
 * Validates every setting and returns them grouped and frozen. Throws one `ConfigurationError` listing every
 * missing or invalid setting, so a misconfigured deployment is fixed in one round; problems that only disable
 * one trigger (see `ConfigurationProblem.disables`) do not throw: `/api/health/report` lists them.
 */
export function loadSettings(env: Environment = process.env): Settings {
  const { settings, problems } = inspectSettings(env);
  if (!settings) throw new ConfigurationError(problems);
  return settings;
}

/**
 * The origin the Functions host itself derives from `WEBSITE_HOSTNAME` for the URLs it hands out: https, or
 * http for `localhost:<port>` (azure-functions-host, src/WebJobs.Script.WebHost/WebHooks/
 * DefaultScriptWebHookProvider.cs, GetExtensionWebHookRoute).
 */
function originOfHostName(hostName: string | undefined): string | undefined {
  if (!hostName) return undefined;
  return `${/^localhost:/i.test(hostName) ? 'http' : 'https'}://${hostName}`;
}

function buildSettings(
  values: ParsedSettingValues,
  resolved: { apiKey: ApiKeySource; storage: StorageConnection; signingSecret: SigningSecretSource },
): Settings {
  // `managed-identity` without these variables is still valid: IMDS (VMs, containers) needs none.
  const hasPlatformIdentity = Boolean(values.IDENTITY_ENDPOINT || values.MSI_ENDPOINT);
  const tokenCredential: TokenCredentialKind =
    values.TOKEN_CREDENTIAL === 'auto'
      ? hasPlatformIdentity
        ? 'managed-identity'
        : 'developer'
      : values.TOKEN_CREDENTIAL;

  return deepFreeze<Settings>({
    tomtom: {
      apiBaseUrl: values.TOMTOM_API_BASE_URL,
      pdgBaseUrl: values.TOMTOM_API_BASE_URL + values.TOMTOM_PDG_BASE_PATH,
      gemBaseUrl: values.TOMTOM_API_BASE_URL + values.TOMTOM_GEM_BASE_PATH,
      vaultUrl: values.TOMTOM_VAULT_URL,
      sendXVersion: values.TOMTOM_SEND_X_VERSION,
    },
    auth: {
      apiKey: resolved.apiKey,
      apiKeyCacheTtlSeconds: values.API_KEY_CACHE_TTL_SECONDS,
      keyVault: values.KEY_VAULT_URL
        ? {
            url: values.KEY_VAULT_URL,
            disableChallengeResourceVerification: values.KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION,
          }
        : undefined,
      gemTokenScope: values.GEM_TOKEN_SCOPE,
      tokenCredential,
      managedIdentityClientId: values.AZURE_CLIENT_ID,
      servicePrincipal: {
        authorityHost: values.AZURE_AUTHORITY_HOST,
        disableInstanceDiscovery: values.PDG_DISABLE_INSTANCE_DISCOVERY,
      },
    },
    storage: {
      ...resolved.storage,
      inboxContainer: values.INBOX_CONTAINER,
      outboxContainer: values.OUTBOX_CONTAINER,
      archiveContainer: values.ARCHIVE_CONTAINER,
    },
    durable: { taskHubName: values.TASKHUB_NAME },
    http: { publicBaseUrl: values.PUBLIC_BASE_URL ?? originOfHostName(values.WEBSITE_HOSTNAME) },
    workflow: {
      defaultStorageId: values.DEFAULT_STORAGE_ID,
      defaultJobType: values.DEFAULT_JOB_TYPE,
      defaultOvertureRelease: values.DEFAULT_OVERTURE_RELEASE,
      defaultOrbisVersion: values.DEFAULT_ORBIS_VERSION,
      defaultOutputFormat: values.DEFAULT_OUTPUT_FORMAT,
      monitorInitialIntervalSeconds: values.MONITOR_INITIAL_INTERVAL_SECONDS,
      monitorMaxIntervalSeconds: values.MONITOR_MAX_INTERVAL_SECONDS,
      monitorBackoffFactor: values.MONITOR_BACKOFF_FACTOR,
      monitorDeadlineHours: values.MONITOR_DEADLINE_HOURS,
      monitorPollsPerGeneration: values.MONITOR_POLLS_PER_GENERATION,
      gemSegmentsPerHour: values.GEM_SEGMENTS_PER_HOUR,
      incremental: values.GEM_INCREMENTAL,
      gemMaxRoadsPerJob: values.GEM_MAX_ROADS_PER_JOB,
      gemMaxParallelJobs: values.GEM_MAX_PARALLEL_JOBS,
      gemPartAttempts: values.GEM_PART_ATTEMPTS,
      storageFanOutLimit: values.STORAGE_FANOUT_LIMIT,
      matchRetentionDays: values.MATCH_RETENTION_DAYS,
    },
    validation: {
      maxFooterBytes: values.VALIDATION_MAX_FOOTER_BYTES,
      maxRowGroupBytes: values.VALIDATION_MAX_ROW_GROUP_BYTES,
      maxRowBytes: values.VALIDATION_MAX_ROW_BYTES,
      maxValueBytes: values.VALIDATION_MAX_VALUE_BYTES,
      maxRows: values.VALIDATION_MAX_ROWS,
      batchRows: values.VALIDATION_BATCH_ROWS,
    },
    notify: {
      signingSecret: resolved.signingSecret,
      maxAttempts: values.NOTIFY_MAX_ATTEMPTS,
      allowedHosts: values.NOTIFY_ALLOWED_HOSTS ?? [],
    },
  });
}

let processSettings: Settings | undefined;

/** The process-wide settings, read from `process.env` on first use. */
export function getSettings(): Settings {
  processSettings ??= loadSettings(process.env);
  return processSettings;
}

/** One setting as `/api/health/report` shows it: a secret only as set or not set, never its value. */
export type SettingInForce =
  | { readonly set: boolean; readonly secret: true }
  | { readonly set: boolean; readonly value?: string; readonly default?: true };

/**
 * Every setting the app reads, as in force in `env`: the value given, or the default (marked) when unset.
 * Secrets (API key, signing secret, storage connection string) appear only as set or not set.
 */
export function settingsInForce(env: Environment = process.env): Record<string, SettingInForce> {
  const shown: Record<string, SettingInForce> = {};
  for (const [name, definition] of Object.entries(definitions) as [SettingName, DefinitionInput][]) {
    const provided = env[name]?.trim();
    if (definition.secret) shown[name] = { set: Boolean(provided), secret: true };
    else if (provided) shown[name] = { set: true, value: provided };
    else if (definition.default !== undefined)
      shown[name] = { set: false, value: definition.default, default: true };
    else shown[name] = { set: false };
  }
  return shown;
}
