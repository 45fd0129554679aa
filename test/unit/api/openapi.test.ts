/**
 * Unit tests of `shared/api/openapi.ts`: buildOpenApiDocument; response schemas match what the code produces;
 * StartMatchRequest schema agrees with resolveStartMatch.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { buildOpenApiDocument } from '../../../shared/api/openapi.js';
import {
  matchStatusSchema,
  resolveStartMatch,
  type StartMatchDefaults,
} from '../../../shared/api/schemas.js';
import { type CompactMatchStatus, toCompactStatus } from '../../../shared/workflow/status.js';
import { schemaProblems } from './jsonSchemaCheck.js';

const document = buildOpenApiDocument({ serverUrl: 'https://func-gemflow.example.net' });
const root = document as unknown as Record<string, unknown>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function collectRefs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) collectRefs(item, found);
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else collectRefs(value, found);
    }
  }
  return found;
}

describe('buildOpenApiDocument', () => {
  it('is an OpenAPI 3.1 document with the server and the documented operations', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: 'https://func-gemflow.example.net' }]);
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'POST /api/matches',
        'GET /api/matches',
        'GET /api/matches/{id}',
        'GET /api/matches/{id}/map',
        'GET /api/matches/{id}/outputs/{document}',
        'POST /api/matches/{id}/cancel',
        'GET /api/storages',
        'GET /api/health',
        'GET /api/health/report',
        'GET /api/openapi.json',
      ].sort(),
    );
  });

  it('leaves servers out when no URL is known', () => {
    expect(buildOpenApiDocument()).not.toHaveProperty('servers');
  });

  it('resolves every $ref to a component schema', () => {
    const refs = collectRefs(document);
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas).toHaveProperty(ref.replace('#/components/schemas/', ''));
    }
  });

  it('gives each operation a unique id and responses, and declares its path parameters', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) {
        expect(METHODS).toContain(method);
        const operation = item[method] as {
          operationId: string;
          responses: Record<string, unknown>;
          parameters?: { name: string; in: string }[];
        };
        expect(ids.has(operation.operationId)).toBe(false);
        ids.add(operation.operationId);
        expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          expect(operation.parameters).toContainEqual(
            expect.objectContaining({ name, in: 'path', required: true }),
          );
        }
      }
    }
  });

  it('protects everything with the function key except health and the document itself', () => {
    expect(document.security).toEqual([{ functionKeyHeader: [] }, { functionKeyQuery: [] }]);
    expect(document.components.securitySchemes).toEqual({
      functionKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
      functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
    });
    const anonymous = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.values(item)
        .filter((operation) => Array.isArray((operation as { security?: unknown }).security))
        .map(() => path),
    );
    expect(anonymous.sort()).toEqual(['/api/health', '/api/openapi.json']);
  });

  it('documents the list filters and paging from the query schema', () => {
    const list = document.paths['/api/matches']?.get as {
      description: string;
      parameters: { name: string; in: string; description?: string }[];
    };
    expect(list.parameters.map((parameter) => parameter.name).sort()).toEqual(
      ['continuationToken', 'createdFrom', 'createdTo', 'status', 'top'].sort(),
    );
    expect(list.parameters.every((parameter) => parameter.in === 'query')).toBe(true);
    const createdFrom = list.parameters.find((parameter) => parameter.name === 'createdFrom');
    expect(createdFrom?.description).toMatch(/Default: 7 days before/);
    expect(list.description).toMatch(/continuationToken/);
    const response = document.components.schemas.ListMatchesResponse as { properties: object };
    expect(Object.keys(response.properties)).toEqual(
      expect.arrayContaining(['matches', 'count', 'continuationToken', 'window']),
    );
  });

  it('says that cancelling does not stop the GEM job', () => {
    const cancel = document.paths['/api/matches/{id}/cancel']?.post as { description: string };
    expect(cancel.description).toMatch(/GEM has no cancel endpoint/);
  });

  it('emits component schemas without per-schema dialect noise', () => {
    for (const schema of Object.values(document.components.schemas)) {
      expect(schema).not.toHaveProperty('$schema');
      expect(schema).not.toHaveProperty('$id');
    }
  });
});

describe('response schemas match what the code produces', () => {
  it('MatchStatus describes toCompactStatus output (types and the published schema)', () => {
    expectTypeOf<CompactMatchStatus>().toEqualTypeOf<z.output<typeof matchStatusSchema>>();
    const view = toCompactStatus(
      {
        instanceId: 'match-1',
        runtimeStatus: 'Completed',
        createdTime: new Date('2026-02-18T10:00:00Z'),
        lastUpdatedTime: new Date('2026-02-18T12:00:00Z'),
        customStatus: { phase: 'completed', jobId: 1, gemStatus: 'SUCCESS', polls: 3 },
        output: {
          outcome: 'succeeded',
          jobId: 1,
          gemStatus: 'SUCCESS',
          statistics: { roads_matched_ratio: 0.8 },
          outputs: { results: 'a.results.parquet', summary: 'a.summary.json' },
          startedAt: '2026-02-18T10:00:00Z',
          finishedAt: '2026-02-18T12:00:00Z',
          polls: 3,
        },
      },
      { outputBaseUrl: 'https://acct.blob.core.windows.net/outbox' },
    );
    expect(matchStatusSchema.safeParse(view).success).toBe(true);
    expect(schemaProblems({ $ref: '#/components/schemas/MatchStatus' }, view, root)).toEqual([]);
  });
});

/**
 * The contract test: for each body, a client validating against the published StartMatchRequest schema
 * must reach the same verdict as the server. Defaults supply storage, job type and both versions, so only
 * rules a body can break are compared (a missing default is a server configuration matter).
 */
describe('StartMatchRequest schema agrees with resolveStartMatch', () => {
  const defaults: StartMatchDefaults = {
    storageId: 'storage-001',
    jobType: 'ROAD_MATCHING',
    overtureRelease: '2026-01-21.0',
    orbisVersion: '123456.1',
    inboxContainer: 'inbox',
  };
  const schema = { $ref: '#/components/schemas/StartMatchRequest' };
  const inbox = { inboxBlob: 'roads/2026/a.parquet' };

  const cases: [string, unknown, boolean][] = [
    ['minimal inbox request', inbox, true],
    ['pdg file with storage', { pdgFilename: 'a.parquet', storageId: 'storage-002' }, true],
    [
      'every field',
      {
        ...inbox,
        storageId: 's_1.x',
        jobType: 'ROAD_MATCHING',
        overtureRelease: '2026-01-21.12',
        callbackUrl: 'https://example.com/h?x=1',
        idempotencyKey: 'Run-2026.02~a_b',
      },
      true,
    ],
    ['lane job with version', { ...inbox, jobType: 'LANE_LEVEL_MATCHING', orbisVersion: '123456.1' }, true],
    ['lane job with default version', { ...inbox, jobType: 'LANE_LEVEL_MATCHING' }, true],
    ['callback to localhost over http', { ...inbox, callbackUrl: 'http://localhost:7071/hook' }, false],
    ['callback to 127.0.0.1 over http', { ...inbox, callbackUrl: 'http://127.0.0.1/hook' }, false],
    ['callback to [::1] over http', { ...inbox, callbackUrl: 'http://[::1]:8080' }, false],
    ['64-character idempotency key', { ...inbox, idempotencyKey: 'k'.repeat(64) }, true],
    ['1024-character blob name', { inboxBlob: 'b'.repeat(1024) }, true],
    ['blob name with spaces and unicode', { inboxBlob: 'Straßen 2026/a b.parquet' }, true],
    ['empty body', {}, false],
    ['both sources', { inboxBlob: 'a', pdgFilename: 'b' }, false],
    ['null body', null, false],
    ['array body', [inbox], false],
    ['unknown field', { ...inbox, callbackURL: 'https://example.com' }, false],
    ['storageId empty', { ...inbox, storageId: '' }, false],
    ['storageId with a space', { ...inbox, storageId: 'my storage' }, false],
    ['storageId too long', { ...inbox, storageId: 's'.repeat(129) }, false],
    ['storageId a number', { ...inbox, storageId: 42 }, false],
    ['inboxBlob empty', { inboxBlob: '' }, false],
    ['inboxBlob absolute', { inboxBlob: '/a.parquet' }, false],
    ['inboxBlob climbing out', { inboxBlob: '../a.parquet' }, false],
    ['inboxBlob with a dot-dot segment', { inboxBlob: 'a/../b.parquet' }, false],
    ['inboxBlob with a dot segment', { inboxBlob: 'a/./b.parquet' }, false],
    ['inboxBlob ending in dot-dot', { inboxBlob: 'a/..' }, false],
    ['inboxBlob with a backslash', { inboxBlob: 'a\\b.parquet' }, false],
    ['inboxBlob with a newline', { inboxBlob: 'a\nb.parquet' }, false],
    ['inboxBlob too long', { inboxBlob: 'b'.repeat(1025) }, false],
    ['pdgFilename with a dot segment', { pdgFilename: './a.parquet' }, false],
    ['jobType lower case', { ...inbox, jobType: 'road_matching' }, false],
    ['overtureRelease without revision', { ...inbox, overtureRelease: '2026-01-21' }, false],
    ['overtureRelease short year', { ...inbox, overtureRelease: '26-01-21.0' }, false],
    ['overtureRelease as a number', { ...inbox, overtureRelease: 20260121 }, false],
    [
      'orbisVersion without revision',
      { ...inbox, jobType: 'LANE_LEVEL_MATCHING', orbisVersion: '123456' },
      false,
    ],
    ['orbisVersion on a road job', { ...inbox, orbisVersion: '123456.1' }, false],
    [
      'orbisVersion with default road job',
      { ...inbox, jobType: 'ROAD_MATCHING', orbisVersion: '1.1' },
      false,
    ],
    [
      'overtureRelease on a lane job',
      { ...inbox, jobType: 'LANE_LEVEL_MATCHING', overtureRelease: '2026-01-21.0' },
      false,
    ],
    ['callback over http to a public host', { ...inbox, callbackUrl: 'http://example.com/hook' }, false],
    [
      'callback to a look-alike of localhost',
      { ...inbox, callbackUrl: 'http://localhost.evil.example/hook' },
      false,
    ],
    ['callback with credentials', { ...inbox, callbackUrl: 'https://user:pw@example.com/hook' }, false],
    ['callback over ftp', { ...inbox, callbackUrl: 'ftp://example.com/x' }, false],
    ['callback not a URL', { ...inbox, callbackUrl: 'example.com/hook' }, false],
    ['callback upper-case scheme', { ...inbox, callbackUrl: 'HTTP://example.com' }, false],
    ['idempotency key empty', { ...inbox, idempotencyKey: '' }, false],
    ['idempotency key too long', { ...inbox, idempotencyKey: 'k'.repeat(65) }, false],
    ['idempotency key with a slash', { ...inbox, idempotencyKey: 'a/b' }, false],
    ['idempotency key with a space', { ...inbox, idempotencyKey: 'a b' }, false],
  ];

  it.each(cases)('%s', (_name, body, valid) => {
    const server = resolveStartMatch(body, defaults);
    const client = schemaProblems(schema, body, root);
    expect({ server: server.ok, client: client.length === 0 }).toEqual({ server: valid, client: valid });
  });

  // Where a callback may point (public addresses only, in any numeric form, and names checked after DNS)
  // is beyond a JSON Schema pattern: the field's description states it, and only the server enforces it.
  it.each([
    'https://10.0.0.1/hook',
    'https://2130706433/hook',
    'https://[::1]/hook',
    'https://localhost/hook',
  ])('server-only rule: %s is refused by the server and described in the document', (callbackUrl) => {
    const body = { ...inbox, callbackUrl };
    expect(resolveStartMatch(body, defaults)).toMatchObject({
      ok: false,
      errors: [{ field: 'callbackUrl' }],
    });
    expect(schemaProblems(schema, body, root)).toEqual([]);
  });

  it('describes the target rules and the allow-list on the callbackUrl field', () => {
    const request = document.components.schemas.StartMatchRequest as {
      properties: { callbackUrl: { description: string } };
    };
    expect(request.properties.callbackUrl.description).toMatch(
      /public host.*loopback, private.*NOTIFY_ALLOWED_HOSTS/s,
    );
  });
});
