/**
 * Request and response schemas of the HTTP API. The OpenAPI document is generated from these (openapi.ts),
 * so the published contract and the validation cannot drift apart. Rules that depend on app settings (the
 * default storage, job type and versions) live in `resolveStartMatch`, not in the schema.
 */
import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { encodingLabel } from '../formats/dbfEncoding.js';
import type { FormatOptions } from '../formats/prepared.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../formats/types.js';
import { JOB_TYPES, type JobType } from '../jobTypes.js';
import {
  type CallbackAllowList,
  callbackTargetProblem,
  callbackUrlSyntaxProblem,
} from '../workflow/callbackTarget.js';
import { MATCH_INSTANCE_ID_PATTERN } from '../workflow/ids.js';
import { MATCH_PHASES, type MatchInput } from '../workflow/types.js';
import { BODY_FIELD, ERROR_LIMITS, type FieldError, fieldErrorsFromZod } from './errors.js';

export type { FieldError } from './errors.js';

/**
 * Largest `POST /api/matches` body accepted, in bytes: every field at its longest, JSON-escaped, fits many times
 * over; anything larger is refused with 413 before it is decoded or parsed.
 */
export const START_MATCH_MAX_BODY_BYTES = 64 * 1024;
/** Longest value of any query parameter (the Functions front end limits the whole URL to 4 KB anyway). */
export const QUERY_VALUE_MAX_LENGTH = 1024;
/** Longest accepted `overtureRelease` / `orbisVersion`: their formats are a dozen characters. */
export const VERSION_MAX_LENGTH = 32;

/** `YYYY-MM-DD.N`, e.g. `2026-01-21.0` (GEM create-job docs). */
export const OVERTURE_RELEASE_PATTERN = /^\d{4}-\d{2}-\d{2}\.\d+$/;
/** `<layer id>.<revision>`, e.g. `123456.1`. */
export const ORBIS_VERSION_PATTERN = /^\d+\.\d+$/;
/** URL-safe characters only, because the key becomes part of an instance id lookup and may travel in URLs. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._~-]+$/;
export const STORAGE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/**
 * A blob name relative to its container: no leading `/`, no `.` or `..` segment, no backslash or control
 * character. Spelled with lookaheads that JSON Schema's ECMA-262 `pattern` understands too.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it rejects
export const BLOB_NAME_PATTERN = /^(?!\/)(?!(?:.*\/)?\.{1,2}(?:\/|$))[^\\\u0000-\u001f]+$/;
/**
 * https with no user info in the authority: what the OpenAPI document can say of a callback URL. The address
 * rules (public hosts only) and the operator's allow-list, which also admits http, are enforced by
 * `callbackTargetProblem` and stated in the field's description.
 */
export const CALLBACK_URL_MAX_LENGTH = 2048;
export const CALLBACK_URL_PATTERN = /^https:\/\/[^/?#@\s]+(?:[/?#]|$)/;

export const RUNTIME_STATUSES = [
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
] as const;
export type RuntimeStatus = (typeof RUNTIME_STATUSES)[number];
const RUNTIME_STATUS_LIST_PATTERN = new RegExp(
  `^(?:${RUNTIME_STATUSES.join('|')})(?:,(?:${RUNTIME_STATUSES.join('|')}))*$`,
);

const jobTypeSchema = z.enum(JOB_TYPES);

/** Matches a string holding an unpaired UTF-16 surrogate (in `u` mode a well-formed pair is one code point). */
const UNPAIRED_SURROGATE = /\p{Cs}/u;
export const INVALID_UNICODE_REASON =
  'contains invalid Unicode: an unpaired surrogate (a lone \\uD800-\\uDFFF escape), which no name or URL may hold';

/**
 * A string field with its length bound and well-formed Unicode checked first, each aborting the rest: a
 * 10 MB value is answered "too long" without running a pattern over it, and a lone surrogate (which JSON allows
 * as an escape, and which would make URL encoding throw later) is a field error, not a crash.
 */
function text(bounds: { min?: number; max: number }) {
  const base = bounds.min === undefined ? z.string() : z.string().min(bounds.min);
  return base
    .max(bounds.max, { abort: true })
    .refine((value) => !UNPAIRED_SURROGATE.test(value), { message: INVALID_UNICODE_REASON, abort: true });
}

const blobNameSchema = (what: string) =>
  text({ min: 1, max: 1024 }).regex(BLOB_NAME_PATTERN, {
    message: `must be a ${what} name without a leading "/" or "." / ".." segments`,
  });

/** Longest attribute, layer or column name a format option may give (real names are a few dozen characters). */
export const FORMAT_NAME_MAX_LENGTH = 128;
/** `EPSG:<code>` (4–6 digits, as EPSG codes are) or `OGC:CRS84`; any case. */
export const SOURCE_CRS_PATTERN = /^(?:EPSG:\d{4,6}|(?:OGC:)?CRS84)$/i;
/** The CSV delimiters gem-flow detects, and so accepts as the `csvDelimiter` option. */
export const CSV_DELIMITER_OPTIONS = [',', ';', '\t', '|'] as const;

/** Whether `label` names a text encoding the runtime can decode (`1252`, `ANSI 1252` and `cp1252` all do). */
function isDecodableEncoding(label: string): boolean {
  try {
    new TextDecoder(encodingLabel(label));
    return true;
  } catch {
    return false;
  }
}

const formatName = (what: string) =>
  text({ min: 1, max: FORMAT_NAME_MAX_LENGTH })
    .optional()
    .describe(`${what} At most ${FORMAT_NAME_MAX_LENGTH} characters.`);

/**
 * How gem-flow reads the user's own road file and writes the enriched output (`FormatOptions` in
 * shared/formats/prepared.ts, which the `satisfies` below holds this schema to). Whether a `sourceCrs` code is
 * in the EPSG registry is checked by `formatOptionsRegistryProblems`, which needs the registry loaded.
 */
export const formatOptionsSchema = z
  .strictObject({
    layer: formatName(
      'GeoPackage: the table to read (default the only line layer). Shapefile zip: the base name of the .shp when the archive holds several.',
    ),
    idColumn: formatName(
      "The attribute holding each road's id. Default: the format's own feature id (GeoJSON id, GeoPackage fid), else the feature's position.",
    ),
    navigableColumn: formatName(
      'The attribute holding navigability, sent to GEM as is_navigable: true/false, yes/no, y/n, t/f or 1/0 (any case); empty or null is unknown. Default: none (GEM assumes navigable).',
    ),
    wktColumn: formatName(
      'CSV: the column holding WKT geometry. Default: detected from the header (wkt, geometry, geom, the_geom, shape).',
    ),
    csvDelimiter: z
      .enum(CSV_DELIMITER_OPTIONS, { message: 'must be one of ",", ";", "|" or a tab' })
      .optional()
      .describe('CSV: the field delimiter. Default: detected from the header.'),
    encoding: text({ min: 1, max: 32 })
      .refine(isDecodableEncoding, {
        message: 'is not a text encoding gem-flow knows (e.g. utf-8, 1252, iso-8859-1)',
      })
      .optional()
      .describe(
        'Shapefile: the .dbf text encoding when the zip has no .cpg (e.g. 1252, iso-8859-1). Default: the .dbf language driver, else UTF-8.',
      ),
    sourceCrs: text({ min: 1, max: 16 })
      .regex(SOURCE_CRS_PATTERN, { message: 'must look like EPSG:28992 (EPSG:<code>) or OGC:CRS84' })
      .optional()
      .describe(
        'The coordinate system the coordinates are in, overriding what the file declares: EPSG:<code> or OGC:CRS84.',
      ),
    outputFormat: z
      .enum(OUTPUT_FORMATS, { message: `must be one of ${OUTPUT_FORMATS.join(', ')}` })
      .optional()
      .describe(
        "Format of the enriched output. Default: DEFAULT_OUTPUT_FORMAT, else the input's (GeoParquet for Parquet, GeoJSON for GeoJSON, GeoPackage for GeoPackage and Shapefile, FlatGeobuf, CSV).",
      ),
  })
  .meta({ title: 'FormatOptions' });

// The schema and the contract type must agree: the same option names, and every parsed value a valid option.
type FormatOptionsFromSchema = z.output<typeof formatOptionsSchema>;
const formatOptionsAgree: [keyof FormatOptions, FormatOptionsFromSchema] extends [
  keyof FormatOptionsFromSchema,
  FormatOptions,
]
  ? [keyof FormatOptionsFromSchema] extends [keyof FormatOptions]
    ? true
    : never
  : never = true;
void formatOptionsAgree;

/**
 * Field errors for a `sourceCrs` whose code the EPSG registry does not hold (`EPSG:99999`), found by asking
 * the same projection code the prepare step uses. Loaded on demand: the registry is large and only a request
 * naming a CRS needs it.
 */
export async function formatOptionsRegistryProblems(
  options: FormatOptions | undefined,
  field = 'format',
): Promise<FieldError[]> {
  if (options?.sourceCrs === undefined) return [];
  const { parseCrsText, projectionFor } = await import('../formats/crs.js');
  const declared = parseCrsText(options.sourceCrs, 'the sourceCrs option');
  try {
    await projectionFor(null, declared);
    return [];
  } catch (error) {
    return [{ field: `${field}.sourceCrs`, reason: `cannot be used: ${errorMessage(error)}` }];
  }
}

/** `POST /api/matches` body. Exactly one of `inboxBlob` and `pdgFilename`. */
export const startMatchRequestSchema = z
  .strictObject({
    storageId: text({ min: 1, max: 128 })
      .regex(STORAGE_ID_PATTERN, { message: 'must contain only letters, digits, ".", "_" and "-"' })
      .optional()
      .describe('PDG storage to match in. Defaults to the storage configured in the app settings.'),
    inboxBlob: blobNameSchema('blob')
      .optional()
      .describe('A blob in the inbox container to validate, stage and match.'),
    pdgFilename: blobNameSchema('file')
      .optional()
      .describe(
        'A file already in the PDG storage (`default` container); validation and staging are skipped.',
      ),
    jobType: jobTypeSchema
      .optional()
      .describe('Defaults to the configured job type (ROAD_MATCHING unless set).'),
    overtureRelease: text({ max: VERSION_MAX_LENGTH })
      .regex(OVERTURE_RELEASE_PATTERN, { message: 'must look like 2026-01-21.0 (YYYY-MM-DD.N)' })
      .optional()
      .describe('Overture release for ROAD_MATCHING, `YYYY-MM-DD.N`. Defaults to the configured release.'),
    orbisVersion: text({ max: VERSION_MAX_LENGTH })
      .regex(ORBIS_VERSION_PATTERN, { message: 'must look like 123456.1 (<layer>.<revision>)' })
      .optional()
      .describe(
        'Orbis map version for LANE_LEVEL_MATCHING, `<layer>.<revision>`. Defaults to the configured version.',
      ),
    callbackUrl: text({ max: CALLBACK_URL_MAX_LENGTH })
      // The URL's form only; where it may point depends on the allow-list setting (resolveStartMatch).
      .refine((url) => callbackUrlSyntaxProblem(url) === null, {
        error: (issue) => callbackUrlSyntaxProblem(String(issue.input)) ?? 'is not a valid callback URL',
      })
      .meta({ format: 'uri', pattern: CALLBACK_URL_PATTERN.source })
      .optional()
      .describe(
        'Receives a signed POST (x-gemflow-signature) when the match ends. Must be https to a public host: ' +
          'loopback, private, link-local, unique-local, CGNAT, multicast, reserved and IPv4-embedding IPv6 ' +
          'addresses are refused, in any numeric form, and so are names such as localhost or *.internal; the ' +
          'host is checked again after DNS when the callback is sent. Hosts the operator lists in ' +
          'NOTIFY_ALLOWED_HOSTS are exempt and may use http.',
      ),
    idempotencyKey: text({ min: 1, max: 64 })
      .regex(IDEMPOTENCY_KEY_PATTERN, { message: 'must contain only letters, digits, ".", "_", "~" and "-"' })
      .optional()
      .describe('Repeating a request with the same key returns the same match instead of starting another.'),
    incremental: z
      .boolean({ message: 'must be true or false' })
      .optional()
      .describe(
        'Send GEM only the rows new or changed since the last completed match of the same inbox file name, and carry the results of the unchanged rows over. ROAD_MATCHING inbox files only. Default: GEM_INCREMENTAL.',
      ),
    previousMatchId: text({ min: 1, max: 64 })
      .regex(MATCH_INSTANCE_ID_PATTERN, {
        message: 'must be a match id as POST /api/matches returns it (match- and 32 hex digits)',
      })
      .optional()
      .describe(
        'The completed match of the same inbox file name to compare with, instead of its latest one. Implies incremental.',
      ),
    format: formatOptionsSchema
      .optional()
      .describe(
        'How to read your own road file (GeoJSON, GeoParquet, CSV with WKT, FlatGeobuf, zipped Shapefile, GeoPackage) and write the enriched output. Ignored for GEM Parquet inputs except outputFormat.',
      ),
  })
  .superRefine((body, context) => {
    const given = [body.inboxBlob, body.pdgFilename].filter((value) => value !== undefined).length;
    if (given !== 1) {
      context.addIssue({
        code: 'custom',
        path: ['source'],
        message:
          given === 0
            ? 'is missing: give inboxBlob (a file in the inbox) or pdgFilename (a file already in PDG storage)'
            : 'is ambiguous: give either inboxBlob or pdgFilename, not both',
      });
    }
  })
  .meta({
    title: 'StartMatchRequest',
    // The same cross-field rules for OpenAPI readers; a contract test checks they agree with the zod rules.
    oneOf: [{ required: ['inboxBlob'] }, { required: ['pdgFilename'] }],
    allOf: [
      {
        if: { required: ['jobType'], properties: { jobType: { const: 'LANE_LEVEL_MATCHING' } } },
        // biome-ignore lint/suspicious/noThenProperty: the JSON Schema `if`/`then` keyword, never awaited
        then: { not: { required: ['overtureRelease'] } },
        else: { not: { required: ['orbisVersion'] } },
      },
    ],
  });

export type StartMatchBody = z.input<typeof startMatchRequestSchema>;

/** Settings-derived defaults the handler passes in; shared/ never reads settings itself. */
export interface StartMatchDefaults {
  storageId?: string;
  jobType?: JobType;
  overtureRelease?: string;
  orbisVersion?: string;
  /** The enriched output's format when a request names none (`DEFAULT_OUTPUT_FORMAT`); default the input's. */
  outputFormat?: OutputFormat;
  /** The inbox container that `inboxBlob` names a blob in. */
  inboxContainer: string;
  /** Callback hosts admitted beyond the public internet (`NOTIFY_ALLOWED_HOSTS`); default none. */
  callbackAllowList?: CallbackAllowList;
  /** Whether runs are incremental when the request does not say (`GEM_INCREMENTAL`); default not. */
  incremental?: boolean;
}

/** A resolved request: everything of `MatchInput` except what the handler adds (outbox, trigger, time). */
export type StartMatchSpec = Omit<MatchInput, 'outbox' | 'trigger' | 'requestedAt'>;

export type Resolution<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

function parsed<T>(result: z.ZodSafeParseResult<T>): Resolution<T> {
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, errors: fieldErrorsFromZod(result.error.issues) };
}

/**
 * Validates a start request and applies defaults. ROAD_MATCHING needs an Overture release and
 * LANE_LEVEL_MATCHING an Orbis version, from the body or the defaults; the version field of the other job
 * type is refused when given in the body (GEM would reject it), and ignored when it only comes from defaults.
 */
export function resolveStartMatch(body: unknown, defaults: StartMatchDefaults): Resolution<StartMatchSpec> {
  const result = parsed(startMatchRequestSchema.safeParse(body, { reportInput: true }));
  const callback = callbackTargetError(body, defaults.callbackAllowList);
  if (!result.ok) {
    // The schema alone cannot judge the target (it depends on the allow-list); report it with the rest.
    const named = result.errors.some((error) => error.field === 'callbackUrl');
    return callback && !named ? { ok: false, errors: [...result.errors, callback] } : result;
  }
  const request = result.value;
  const errors: FieldError[] = callback ? [callback] : [];

  const storageId = request.storageId ?? defaults.storageId;
  if (!storageId) {
    errors.push({ field: 'storageId', reason: 'is required: no default storage is configured for this app' });
  }

  const jobType: JobType = request.jobType ?? defaults.jobType ?? 'ROAD_MATCHING';
  const spec: StartMatchSpec = {
    source: request.inboxBlob
      ? { kind: 'inbox', container: defaults.inboxContainer, blobName: request.inboxBlob }
      : { kind: 'pdg', filename: request.pdgFilename as string },
    storageId: storageId ?? '',
    jobType,
    ...(request.callbackUrl ? { callbackUrl: request.callbackUrl } : {}),
  };
  const format = formatOptionsWithDefaults(request.format, defaults);
  if (format) spec.format = format;
  Object.assign(spec, incrementalOptions(request, spec, defaults, errors));

  const versionRule = (
    field: 'overtureRelease' | 'orbisVersion',
    pattern: RegExp,
    example: string,
    otherField: 'overtureRelease' | 'orbisVersion',
  ) => {
    if (request[otherField] !== undefined) {
      errors.push({
        field: otherField,
        reason: `applies only to ${jobType === 'ROAD_MATCHING' ? 'LANE_LEVEL_MATCHING' : 'ROAD_MATCHING'} jobs`,
      });
    }
    const value = request[field] ?? defaults[field];
    if (!value) {
      errors.push({
        field,
        reason: `is required for ${jobType} jobs (e.g. ${example}) and no default is configured`,
      });
    } else if (!pattern.test(value)) {
      errors.push({
        field,
        reason: `the configured default "${value}" is malformed; it must look like ${example}`,
      });
    } else {
      spec[field] = value;
    }
  };
  if (jobType === 'ROAD_MATCHING')
    versionRule('overtureRelease', OVERTURE_RELEASE_PATTERN, '2026-01-21.0', 'orbisVersion');
  else versionRule('orbisVersion', ORBIS_VERSION_PATTERN, '123456.1', 'overtureRelease');

  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: spec };
}

/**
 * Whether the run is incremental, and against which run. Asked for in the body of a run that cannot be (a
 * lane-level job, a file already in PDG storage: neither is prepared, so there are no rows to compare) is a
 * field error; the setting's default applies only where it can.
 */
function incrementalOptions(
  request: z.output<typeof startMatchRequestSchema>,
  spec: StartMatchSpec,
  defaults: StartMatchDefaults,
  errors: FieldError[],
): Pick<StartMatchSpec, 'incremental' | 'previousMatchId'> {
  const applicable = spec.jobType === 'ROAD_MATCHING' && spec.source.kind === 'inbox';
  const field = request.previousMatchId !== undefined ? 'previousMatchId' : 'incremental';
  if (request.previousMatchId !== undefined && request.incremental === false) {
    errors.push({
      field: 'incremental',
      reason: 'is false, but previousMatchId asks for an incremental run',
    });
  }
  if (!applicable && (request.previousMatchId !== undefined || request.incremental === true)) {
    errors.push({
      field,
      reason: 'applies only to ROAD_MATCHING jobs of inbox files (inboxBlob), whose rows gem-flow reads',
    });
  }
  const incremental =
    applicable && (request.previousMatchId !== undefined || (request.incremental ?? defaults.incremental));
  if (!incremental) return {};
  return {
    incremental: true,
    ...(request.previousMatchId ? { previousMatchId: request.previousMatchId } : {}),
  };
}

/** The request's format options with the settings' default output format; undefined when none applies. */
function formatOptionsWithDefaults(
  options: FormatOptions | undefined,
  defaults: StartMatchDefaults,
): FormatOptions | undefined {
  const outputFormat = options?.outputFormat ?? defaults.outputFormat;
  const resolved: FormatOptions = { ...options, ...(outputFormat ? { outputFormat } : {}) };
  return Object.keys(resolved).length > 0 ? resolved : undefined;
}

/** Where the body's callbackUrl points, judged against the allow-list, when it is a well-formed URL. */
function callbackTargetError(body: unknown, allowList: CallbackAllowList | undefined): FieldError | null {
  const url =
    typeof body === 'object' && body !== null ? (body as { callbackUrl?: unknown }).callbackUrl : undefined;
  if (
    typeof url !== 'string' ||
    url.length > CALLBACK_URL_MAX_LENGTH ||
    UNPAIRED_SURROGATE.test(url) ||
    callbackUrlSyntaxProblem(url) !== null
  )
    return null;
  const problem = callbackTargetProblem(url, allowList);
  return problem ? { field: 'callbackUrl', reason: problem } : null;
}

/**
 * How far back `GET /api/matches` looks when the request names no `createdFrom`. A constant of the API, not a
 * setting, so the same request means the same thing on every deployment; a week holds every match still
 * running (their monitor gives up after MONITOR_DEADLINE_HOURS, 48 h by default) with room to spare.
 */
export const LIST_MATCHES_DEFAULT_WINDOW_DAYS = 7;
/** Matches per page when the request names no `top`. */
export const LIST_MATCHES_DEFAULT_PAGE_SIZE = 50;
/** Continuation tokens are base64url; a real one is well under this. */
export const CONTINUATION_TOKEN_MAX_LENGTH = 2048;

const isoDateTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time such as 2026-02-18T10:00:00Z',
});

/** `GET /api/matches` query. Unknown parameters (such as the function key `code`) are ignored. */
export const listMatchesQuerySchema = z
  .object({
    status: z
      .string()
      .regex(RUNTIME_STATUS_LIST_PATTERN, {
        message: `must be a comma-separated list of ${RUNTIME_STATUSES.join(', ')}`,
      })
      .transform((value) => value.split(',') as RuntimeStatus[])
      .optional()
      .describe('Comma-separated runtime statuses, e.g. `Running,Pending`.'),
    createdFrom: isoDateTime
      .optional()
      .describe(
        `Oldest creation time listed (inclusive). Default: ${LIST_MATCHES_DEFAULT_WINDOW_DAYS} days before createdTo, or before now.`,
      ),
    createdTo: isoDateTime.optional().describe('Newest creation time listed (inclusive). Default: no bound.'),
    top: z.coerce
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe(`Matches per page, newest first (1–100; default ${LIST_MATCHES_DEFAULT_PAGE_SIZE}).`),
    continuationToken: z
      .string()
      .max(CONTINUATION_TOKEN_MAX_LENGTH)
      .regex(/^[A-Za-z0-9_-]+$/, { message: 'must be the continuationToken of a previous response' })
      .optional()
      .describe(
        'The `continuationToken` of the previous page. It carries that request’s status and time window; repeating them is allowed, changing them is not.',
      ),
  })
  .superRefine((query, context) => {
    if (query.createdFrom && query.createdTo && Date.parse(query.createdFrom) > Date.parse(query.createdTo)) {
      context.addIssue({ code: 'custom', path: ['createdTo'], message: 'must not be before createdFrom' });
    }
  });

export type ListMatchesQuery = z.output<typeof listMatchesQuerySchema>;

/** `GET /api/storages` query. */
export const listStoragesQuerySchema = z.object({
  refresh: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((value) => value === 'true' || value === '1')
    .describe('`true` re-reads the storages from TomTom instead of the cached inventory.'),
});

export type ListStoragesQuery = z.output<typeof listStoragesQuerySchema>;

type QueryInput = URLSearchParams | Record<string, string | undefined>;

function queryObject(query: QueryInput): Record<string, string> {
  const entries = query instanceof URLSearchParams ? [...query.entries()] : Object.entries(query);
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * Parses a query with `schema`, after the bounds every query parameter shares (known or not): at most
 * `QUERY_VALUE_MAX_LENGTH` characters and well-formed Unicode. The OpenAPI document states the length on each
 * parameter (openapi.ts).
 */
export function parseQuery<T>(schema: z.ZodType<T>, query: QueryInput): Resolution<T> {
  const values = queryObject(query);
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (value.length > QUERY_VALUE_MAX_LENGTH) {
      errors.push({ field: name, reason: `must be at most ${QUERY_VALUE_MAX_LENGTH} characters long` });
    } else if (UNPAIRED_SURROGATE.test(value) || UNPAIRED_SURROGATE.test(name)) {
      errors.push({ field: name, reason: INVALID_UNICODE_REASON });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return parsed(schema.safeParse(values, { reportInput: true }));
}

export function parseListMatchesQuery(query: QueryInput): Resolution<ListMatchesQuery> {
  return parseQuery(listMatchesQuerySchema, query);
}

export function parseListStoragesQuery(query: QueryInput): Resolution<ListStoragesQuery> {
  return parseQuery(listStoragesQuerySchema, query);
}

/** Parses a request body; an empty body counts as `{}` so the schema can name the missing fields. */
export function parseJsonBody(text: string): Resolution<unknown> {
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    // V8 quotes a window of the input in its message; the envelope bounds it (ERROR_LIMITS.reasonLength).
    const detail = errorMessage(error);
    return { ok: false, errors: [{ field: BODY_FIELD, reason: `is not valid JSON (${detail})` }] };
  }
}

// ---- Responses (documented in OpenAPI; the handlers build them) ----

const outputRefSchema = z
  .object({ blob: z.string(), url: z.string().optional() })
  .nullable()
  .describe('An outbox blob; `url` is set when the app knows the outbox base URL.');

const kindsSchema = <T extends z.ZodType>(value: T) =>
  z.object({ full: value, partial: value, unmatched: value });

/** `EnrichmentCounts` (shared/results/counts.ts); the OpenAPI test holds the two types equal. */
export const enrichmentCountsSchema = z
  .object({
    inputFeatures: z.int().describe('Features read from the source; every one is in the enriched output.'),
    gemRows: z.int().describe('GEM rows they became (a MultiLineString gives one row per part).'),
    resultRows: z.int().describe("Rows in GEM's results file (one per match)."),
    unjoinedResultRows: z
      .int()
      .describe('Results rows naming no GEM row of the source (0 unless either changed).'),
    roads: kindsSchema(z.int()).describe(
      'Roads by match kind: full (matches cover ≥ 99 % of the length), partial (some), unmatched (none).',
    ),
    kilometres: kindsSchema(z.number())
      .extend({
        total: z.number(),
        covered: z.number().describe("The matched parts' length: each road's coverage times its length."),
      })
      .describe('Geodesic length (haversine, km) of the lon/lat lines GEM was sent, by match kind.'),
    confidenceHistogram: z
      .array(z.object({ from: z.number(), to: z.number(), roads: z.int() }))
      .describe(
        "Roads by their best match's confidence in 10 buckets [0,10) … [90,100]; unmatched roads in none.",
      ),
  })
  .nullable()
  .describe('Counts from the enriched output; null until it is written, or when it could not be.');

const rowCount = (what: string) => z.int().min(0).describe(what);

/** `IncrementalSummary` (shared/workflow/types.ts), as summary.json and the match status carry it. */
export const incrementalSummarySchema = z
  .union([
    z.object({
      applied: z.literal(true),
      previousMatchId: z.string().describe('The completed match compared with.'),
      unchanged: rowCount(
        'Rows with the same id, geometry and is_navigable: their results were carried over.',
      ),
      changed: rowCount('Rows whose geometry or is_navigable changed: sent to GEM again.'),
      new: rowCount('Rows whose id the previous match did not have: sent to GEM.'),
      deleted: rowCount('Rows of the previous match gone from this file: their results were dropped.'),
      gemRowsSubmitted: rowCount('Rows sent to GEM: changed + new.'),
      gemHoursAvoided: z.number().min(0).describe('Unchanged rows ÷ GEM_SEGMENTS_PER_HOUR.'),
    }),
    z.object({
      applied: z.literal(false),
      reason: z.string().describe('Why every row went to GEM after all.'),
      previousMatchId: z.string().nullable(),
    }),
  ])
  .nullable()
  .describe('What an incremental match sent GEM and carried over; null for a match that is not incremental.');

export const matchStatusSchema = z.object({
  id: z.string(),
  runtimeStatus: z
    .string()
    .describe('Durable runtime status: Pending, Running, Completed, Failed, Terminated, …'),
  phase: z.enum(MATCH_PHASES).nullable(),
  outcome: z.enum(['succeeded', 'gem-failed', 'invalid-input', 'timed-out']).nullable(),
  jobId: z.number().int().nullable(),
  gemStatus: z.string().nullable().describe('REQUESTED, IN_PROGRESS, SUCCESS, FAILED, or a newer GEM value.'),
  polls: z.number().int(),
  estimatedCompletion: z.string().nullable(),
  statistics: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("GEM's own statistics (ratios), as GEM reported them."),
  counts: enrichmentCountsSchema,
  incremental: incrementalSummarySchema,
  outputs: z.object({
    results: outputRefSchema.describe("GEM's raw results file, one row per match."),
    summary: outputRefSchema,
    error: outputRefSchema,
    validationReport: outputRefSchema,
    matched: outputRefSchema.describe(
      "The user's own features with GERS ids, in their format: matched.<ext>.",
    ),
  }),
  error: z.object({ message: z.string() }).nullable(),
  notification: z
    .object({
      delivered: z.boolean(),
      refused: z
        .boolean()
        .describe('The callback target rules refused the URL (before or after DNS); nothing was sent.'),
      attempts: z.int().describe('Requests sent to the receiver.'),
      lastStatus: z.int().nullable().describe('The HTTP status of the last answer, if one arrived.'),
      error: z.string().nullable().describe('Why it was not delivered.'),
    })
    .nullable()
    .describe('What became of the callback; null when the match has none or has not sent it yet.'),
  parts: z
    .object({
      total: z.int(),
      done: z.int(),
      running: z.int(),
      failed: z.int(),
      queued: z.int(),
      window: z.int().describe('The effective window: GEM jobs allowed to run at once now (shrinks on 429).'),
      resubmits: z.int().describe('Parts started again after a FAILED job, a timeout or a refusal.'),
      refusals: z.int().describe('Job creates TomTom refused (429).'),
      list: z
        .array(
          z.object({
            index: z.int(),
            rows: z.int(),
            state: z.enum(['queued', 'running', 'done', 'failed']),
            attempt: z.int().describe('Attempts started for the part (1 = first).'),
            jobId: z.int().nullable(),
            gemStatus: z.string().nullable(),
          }),
        )
        .describe('Running and failed parts first, then by index; at most 64 parts.'),
      listed: z.int().describe('Parts in list; fewer than total when the list was cut at 64.'),
    })
    .nullable()
    .describe('A partitioned match (more roads than GEM_MAX_ROADS_PER_JOB): its parts; null for one job.'),
  createdTime: z.string(),
  lastUpdatedTime: z.string(),
});

export const startMatchAcceptedSchema = z.object({
  id: z.string().describe('The match id (orchestration instance id).'),
  created: z
    .boolean()
    .describe('False when the request resolved to an existing match (same file, or same idempotency key).'),
  runtimeStatus: z
    .string()
    .optional()
    .describe('Runtime status of the existing match, when `created` is false.'),
  statusUrl: z.string(),
  cancelUrl: z.string(),
});

export const listMatchesResponseSchema = z.object({
  matches: z.array(matchStatusSchema).describe('Newest first (created time, then id).'),
  count: z.number().int().describe('Matches on this page.'),
  continuationToken: z
    .string()
    .nullable()
    .describe('Pass as `?continuationToken=` for the next page; null on the last page.'),
  window: z
    .object({ createdFrom: z.string(), createdTo: z.string().nullable() })
    .describe('The creation-time window listed, defaults applied.'),
});

export const cancelMatchResponseSchema = z.object({
  id: z.string(),
  cancelled: z.boolean(),
  note: z
    .string()
    .describe(
      'GEM has no cancel endpoint: a submitted job keeps running at TomTom; only gem-flow stops following it.',
    ),
});

export const storagesResponseSchema = z.object({
  source: z.enum(['snapshot', 'refreshed']),
  snapshot: z
    .looseObject({})
    .describe('The storage inventory: the PDG storages visible to the app, and when they were read.'),
});

export const healthResponseSchema = z
  .object({ status: z.literal('alive') })
  .describe(
    'Liveness only: the app answers. Nothing about its settings or dependencies, and no outbound call.',
  );

const settingInForceSchema = z.union([
  z.object({ set: z.boolean(), secret: z.literal(true).describe('A secret: shown only as set or not set.') }),
  z.object({
    set: z.boolean().describe('Whether the app setting has a value.'),
    value: z.string().optional().describe('The value in force: the one set, or the default.'),
    default: z.literal(true).optional().describe('The setting is unset and its default applies.'),
  }),
]);

export const DEPENDENCY_CHECKS = ['app-storage', 'api-key', 'gem-token', 'tomtom'] as const;

const dependencyCheckSchema = z.object({
  name: z.enum(DEPENDENCY_CHECKS),
  ok: z.boolean(),
  latencyMs: z.number().int().min(0),
  detail: z.string().describe('What was reached, or why it failed (and what to fix). Never a secret.'),
});

export const healthReportSchema = z.object({
  status: z
    .enum(['ok', 'degraded', 'misconfigured'])
    .describe('misconfigured: a setting has a problem; degraded: a dependency check failed.'),
  version: z.string().describe('The app version.'),
  node: z.string().describe('The Node.js version running the app (process.version).'),
  settingsProblems: z
    .array(
      z.object({
        setting: z.string(),
        problem: z.string(),
        disables: z
          .string()
          .optional()
          .describe('The one function the problem disables; absent when every function is affected.'),
      }),
    )
    .describe('Every missing or invalid setting, all at once.'),
  settings: z.record(z.string(), settingInForceSchema).describe('Every setting the app reads, as in force.'),
  checks: z.array(dependencyCheckSchema).describe('Not run (and failed) while the settings have problems.'),
  checkedAt: z.string().describe('When the checks ran (ISO 8601); they are reused for cachedForSeconds.'),
  cachedForSeconds: z.number().int().min(0),
});

export const errorEnvelopeSchema = z.object({
  error: z.object({
    code: z.string().describe('ValidationFailed, PayloadTooLarge, NotFound, Conflict, …'),
    message: z.string(),
    details: z
      .array(
        z.object({
          field: z.string().max(ERROR_LIMITS.fieldLength),
          reason: z.string().max(ERROR_LIMITS.reasonLength),
        }),
      )
      .max(ERROR_LIMITS.details)
      .optional()
      .describe(`One entry per problem, at most ${ERROR_LIMITS.details}.`),
    omittedDetails: z
      .int()
      .min(1)
      .optional()
      .describe('How many further problems were found and not listed in details.'),
  }),
});
