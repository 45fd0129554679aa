/**
 * The OpenAPI 3.1 description of the HTTP API. Request, response and query schemas are generated from the
 * zod schemas in schemas.ts (OpenAPI 3.1 uses JSON Schema 2020-12, which zod emits directly), so the
 * document cannot drift from what the handlers validate.
 */
import { z } from 'zod';
import { resultsOpenApiPaths } from './resultSchemas.js';
import {
  cancelMatchResponseSchema,
  errorEnvelopeSchema,
  healthReportSchema,
  healthResponseSchema,
  LIST_MATCHES_DEFAULT_WINDOW_DAYS,
  listMatchesQuerySchema,
  listMatchesResponseSchema,
  listStoragesQuerySchema,
  matchStatusSchema,
  QUERY_VALUE_MAX_LENGTH,
  START_MATCH_MAX_BODY_BYTES,
  startMatchAcceptedSchema,
  startMatchRequestSchema,
  storagesResponseSchema,
} from './schemas.js';

export interface OpenApiOptions {
  /** Origin the API is served from, e.g. `https://func-gemflow.azurewebsites.net`. */
  serverUrl?: string;
  /** The app's version, shown as `info.version`. */
  version?: string;
}

export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers?: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

/** Instance ids as the handlers accept them in paths. */
export const MATCH_ID_PATTERN = '^[A-Za-z0-9:_-]{1,100}$';

const COMPONENTS = {
  StartMatchRequest: startMatchRequestSchema,
  StartMatchAccepted: startMatchAcceptedSchema,
  MatchStatus: matchStatusSchema,
  ListMatchesResponse: listMatchesResponseSchema,
  CancelMatchResponse: cancelMatchResponseSchema,
  StoragesResponse: storagesResponseSchema,
  HealthResponse: healthResponseSchema,
  HealthReport: healthReportSchema,
  ErrorEnvelope: errorEnvelopeSchema,
} as const;

type ComponentName = keyof typeof COMPONENTS;

const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });

function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  // `$schema` and `$id` are noise inside an OpenAPI document, whose dialect is already 2020-12.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
      return [id, rest];
    }),
  );
}

/**
 * The bound `parseQuery` puts on every query parameter, stated on a parameter schema that has no tighter one.
 * A value that is not a string (a coerced number, an enum) is bounded already.
 */
function withQueryLength(schema: JsonSchema): JsonSchema {
  if (schema.type !== 'string' || 'enum' in schema || 'const' in schema) return schema;
  const own = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  return { ...schema, maxLength: Math.min(own, QUERY_VALUE_MAX_LENGTH) };
}

/** One OpenAPI query parameter per property of a zod object schema. */
function queryParameters(schema: z.ZodType): Record<string, unknown>[] {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...parameterSchema } = property;
    return {
      name,
      in: 'query',
      required: json.required?.includes(name) ?? false,
      ...(typeof description === 'string' ? { description } : {}),
      schema: withQueryLength(parameterSchema),
    };
  });
}

const json = (name: ComponentName, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});

const errorResponse = (description: string) => json('ErrorEnvelope', description);

const unauthorizedResponse = {
  description: 'The function key is missing or wrong (answered by the Functions host, without a body).',
};

const matchIdParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The match id returned by POST /api/matches.',
  schema: { type: 'string', maxLength: 100, pattern: MATCH_ID_PATTERN },
};

export function buildOpenApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: {
      title: 'gem-flow',
      version: options.version ?? '0.1.0',
      description:
        'Runs TomTom Orbis GEM road matching as durable workflows: start a match for a file, follow it, cancel it, and list the PDG storages.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    // Either way of passing the function key is accepted.
    security: [{ functionKeyHeader: [] }, { functionKeyQuery: [] }],
    paths: {
      '/api/matches': { post: startMatchOperation(), get: listMatchesOperation() },
      '/api/matches/{id}': { get: getMatchOperation() },
      '/api/matches/{id}/cancel': { post: cancelMatchOperation() },
      ...resultsOpenApiPaths({ matchIdParameter, queryParameters, errorResponse, unauthorizedResponse }),
      '/api/storages': { get: listStoragesOperation() },
      '/api/health': { get: healthOperation() },
      '/api/health/report': { get: healthReportOperation() },
      '/api/openapi.json': { get: openApiDocumentOperation() },
    },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        functionKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
    },
  };
}

// One function per operation, in the document's order; each is called only while a document is built.

function startMatchOperation() {
  return {
    operationId: 'startMatch',
    summary: 'Start matching a file',
    description:
      'Validates the request, applies the configured defaults and starts a match. Repeating a request for the same file (or with the same idempotencyKey) returns the existing match with `created: false`.',
    requestBody: {
      required: true,
      description: `UTF-8 JSON, at most ${START_MATCH_MAX_BODY_BYTES} bytes.`,
      content: { 'application/json': { schema: ref('StartMatchRequest') } },
    },
    responses: {
      '202': {
        ...json('StartMatchAccepted', 'Accepted; follow statusUrl.'),
        headers: {
          Location: { description: 'The status URL.', schema: { type: 'string' } },
          'Retry-After': {
            description: 'Seconds to wait before polling.',
            schema: { type: 'integer' },
          },
        },
      },
      '400': errorResponse(
        'The body is not valid UTF-8 or JSON, or fields are invalid; `details` lists each field.',
      ),
      '401': unauthorizedResponse,
      '413': errorResponse(`The body is larger than ${START_MATCH_MAX_BODY_BYTES} bytes; it was not parsed.`),
    },
  };
}

function listMatchesOperation() {
  return {
    operationId: 'listMatches',
    summary: 'List matches',
    description:
      `One page of matches, newest first, created within a time window (by default the last ${LIST_MATCHES_DEFAULT_WINDOW_DAYS} days). ` +
      'When more follow, the response has a `continuationToken`: pass it as `?continuationToken=` (the window and status filter travel inside it) until it is null.',
    parameters: queryParameters(listMatchesQuerySchema),
    responses: {
      '200': json('ListMatchesResponse', 'A page of matches, newest first.'),
      '400': errorResponse('A query parameter is invalid.'),
      '401': unauthorizedResponse,
    },
  };
}

function getMatchOperation() {
  return {
    operationId: 'getMatch',
    summary: 'Read the status of a match',
    parameters: [matchIdParameter],
    responses: {
      '200': json(
        'MatchStatus',
        'The compact status: phase, GEM job id and status, polls, estimate, outputs.',
      ),
      '401': unauthorizedResponse,
      '404': errorResponse('No match with this id.'),
    },
  };
}

function cancelMatchOperation() {
  return {
    operationId: 'cancelMatch',
    summary: 'Stop a running match',
    description:
      'Terminates the workflow. GEM has no cancel endpoint, so a job already submitted keeps running at TomTom; its results stay in the PDG storage and are not delivered to the outbox.',
    parameters: [matchIdParameter],
    responses: {
      '202': json('CancelMatchResponse', 'The workflow is being terminated.'),
      '401': unauthorizedResponse,
      '404': errorResponse('No match with this id.'),
      '409': errorResponse('The match has already finished.'),
    },
  };
}

function listStoragesOperation() {
  return {
    operationId: 'listStorages',
    summary: 'List the PDG storages',
    parameters: queryParameters(listStoragesQuerySchema),
    responses: {
      '200': json('StoragesResponse', 'The latest inventory, or a fresh one with refresh=true.'),
      '202': {
        description:
          'refresh=true and TomTom is slow: the refresh continues; GET /api/storages (the Location) serves it when done.',
      },
      '502': errorResponse('refresh=true and reading the storages from TomTom failed.'),
      '401': unauthorizedResponse,
      '404': errorResponse('No inventory has been taken yet; call again with refresh=true.'),
    },
  };
}

function healthOperation() {
  return {
    operationId: 'health',
    summary: 'Liveness check',
    description:
      'Anonymous and free: answers from memory, reads no setting and calls no dependency. It says only that the app runs; the report is GET /api/health/report.',
    security: [],
    responses: { '200': json('HealthResponse', 'The app is up.') },
  };
}

function healthReportOperation() {
  return {
    operationId: 'healthReport',
    summary: 'Settings, settings problems and dependency checks',
    description:
      'The settings in force (secrets only as set or not set), every settings problem, the Node.js version, and whether app storage, the API key source, the Entra token and TomTom answer. The checks are reused for cachedForSeconds, so polling costs at most one round of calls per window.',
    responses: {
      '200': json('HealthReport', 'Every setting is valid and every check passed.'),
      '503': json('HealthReport', 'A setting has a problem or a check failed; the report says which.'),
      '401': unauthorizedResponse,
    },
  };
}

function openApiDocumentOperation() {
  return {
    operationId: 'openApiDocument',
    summary: 'This document',
    security: [],
    responses: {
      '200': {
        description: 'The OpenAPI 3.1 document.',
        content: { 'application/json': { schema: {} } },
      },
    },
  };
}
