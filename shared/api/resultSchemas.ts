/**
 * The contract of the results routes, `GET /api/matches/{id}/map` and `GET /api/matches/{id}/outputs/{document}`:
 * the map's query and response as zod schemas (the handler parses with the first; the OpenAPI document is
 * generated from both), and the two operations as OpenAPI path items, which openapi.ts adds to its paths.
 */
import { z } from 'zod';
import {
  OUTPUT_DOCUMENTS,
  OUTPUT_RESPONSE_MAX_BYTES,
  RANGE_HEADER_MAX_LENGTH,
} from '../results/outputDocuments.js';
import { CONFIDENCE_BUCKETS, FULL_COVERAGE_TOLERANCE } from '../results/roadMatches.js';
import { MAP_MAX_FEATURES, MAP_MAX_VERTICES } from '../results/runMap.js';
import { parseQuery, type Resolution } from './schemas.js';

/** `GET /api/matches/{id}/map` query. Unknown parameters (such as the function key `code`) are ignored. */
export const matchMapQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAP_MAX_FEATURES)
    .optional()
    .describe(
      `Most roads to return, the first ones of the file (1–${MAP_MAX_FEATURES}; default ${MAP_MAX_FEATURES}).`,
    ),
});

export type MatchMapQuery = z.output<typeof matchMapQuerySchema>;

export function parseMatchMapQuery(query: URLSearchParams): Resolution<MatchMapQuery> {
  return parseQuery(matchMapQuerySchema, query);
}

const position = z.array(z.number()).min(2).max(2);

const mapFeatureSchema = z.object({
  type: z.literal('Feature'),
  geometry: z
    .union([
      z.object({ type: z.literal('LineString'), coordinates: z.array(position) }),
      z.object({ type: z.literal('MultiLineString'), coordinates: z.array(z.array(position)) }),
    ])
    .nullable()
    .describe('The road as drawn, in EPSG:4326 (longitude, latitude), 6 decimals.'),
  properties: z.object({
    index: z.number().int().describe('0-based row of the road in the input file.'),
    id: z.union([z.string(), z.number(), z.null()]).describe('The road’s own id.'),
    match: z
      .enum(['full', 'partial', 'unmatched'])
      .describe(
        `full: GEM’s matches cover the whole line (their lr_id ranges, within ${FULL_COVERAGE_TOLERANCE} of its length); partial: some of it; unmatched: no match.`,
      ),
    gers: z
      .string()
      .nullable()
      .describe('GERS id of the best match (highest confidence, then longest part).'),
    confidence: z.number().nullable().describe('Confidence of the best match, 0–100.'),
    match_count: z.number().int().describe('Rows GEM returned for the road.'),
  }),
});

export const matchMapResponseSchema = z.object({
  type: z.literal('FeatureCollection'),
  features: z.array(mapFeatureSchema),
  total: z.number().int().describe('Roads in the input file.'),
  truncated: z
    .boolean()
    .describe(
      `True when features holds only the first roads (limit, ${MAP_MAX_FEATURES} roads or ${MAP_MAX_VERTICES} coordinates).`,
    ),
  source: z.literal('input-and-results').describe('Where the features were read from.'),
  statistics: z
    .object({
      roads: z.number().int().describe('Roads counted: those in features.'),
      full: z.number().int(),
      partial: z.number().int(),
      unmatched: z.number().int(),
      histogram: z.object({
        bucketWidth: z.literal(10),
        counts: z
          .array(z.number().int())
          .length(CONFIDENCE_BUCKETS)
          .describe('Matched roads by best confidence: [0,10), [10,20), …, [90,100].'),
      }),
    })
    .describe('The roads in features by kind, and their best confidences.'),
});

export type MatchMapResponse = z.output<typeof matchMapResponseSchema>;

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'output',
  }) as JsonSchema;
  return rest;
}

/** The pieces of openapi.ts these operations share with the others. */
export interface OpenApiParts {
  matchIdParameter: Record<string, unknown>;
  queryParameters: (schema: z.ZodType) => Record<string, unknown>[];
  errorResponse: (description: string) => Record<string, unknown>;
  unauthorizedResponse: Record<string, unknown>;
}

/** The results routes as OpenAPI path items. */
export function resultsOpenApiPaths(parts: OpenApiParts): Record<string, Record<string, unknown>> {
  const { matchIdParameter, queryParameters, errorResponse, unauthorizedResponse } = parts;
  return {
    '/api/matches/{id}/map': {
      get: {
        operationId: 'getMatchMap',
        summary: 'The matched roads as GeoJSON, with counts and a confidence histogram',
        description:
          'The input roads of a completed ROAD_MATCHING match (a file uploaded to the inbox) joined with GEM’s results, as a GeoJSON FeatureCollection in EPSG:4326. Bounded: the first roads of the file, `truncated` and `total` saying how many there are. gzip-encoded when the client accepts it.',
        parameters: [matchIdParameter, ...queryParameters(matchMapQuerySchema)],
        responses: {
          '200': {
            description: 'The roads and their statistics.',
            content: { 'application/geo+json': { schema: jsonSchema(matchMapResponseSchema) } },
          },
          '400': errorResponse('A query parameter is invalid.'),
          '401': unauthorizedResponse,
          '404': errorResponse(
            'No such match, or it has no map: not completed, invalid input, not ROAD_MATCHING, a PDG file, or its input was replaced or archived. The message says which.',
          ),
        },
      },
    },
    '/api/matches/{id}/outputs/{document}': {
      get: {
        operationId: 'getMatchOutput',
        summary: 'Download one of the match’s outbox documents',
        description: `The document’s bytes, with a Content-Disposition file name (\`<input stem>.<document file>\`). One response carries at most ${OUTPUT_RESPONSE_MAX_BYTES} bytes: a larger document is read in parts with \`Range: bytes=<first>-<last>\` (206 with Content-Range).`,
        parameters: [
          matchIdParameter,
          {
            name: 'document',
            in: 'path',
            required: true,
            description: 'Which document.',
            schema: { type: 'string', enum: [...OUTPUT_DOCUMENTS] },
          },
          {
            name: 'Range',
            in: 'header',
            required: false,
            description: `One byte range; required for documents over ${OUTPUT_RESPONSE_MAX_BYTES} bytes.`,
            schema: { type: 'string', pattern: '^bytes=\\d*-\\d*$', maxLength: RANGE_HEADER_MAX_LENGTH },
          },
        ],
        responses: {
          '200': {
            description: 'The whole document.',
            content: { 'application/octet-stream': { schema: {} } },
          },
          '206': { description: 'The range asked for (Content-Range says which bytes).' },
          '400': errorResponse(
            'The Range header is malformed, or missing for a document too large for one response.',
          ),
          '401': unauthorizedResponse,
          '404': errorResponse('No such match or document; the message names what is missing.'),
          '416': { description: 'The range starts past the end of the document.' },
        },
      },
    },
  };
}
