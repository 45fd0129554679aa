// The HTTP API's input limits, where the app enforces them: a length bound and well-formed Unicode on every
// string field, a byte limit on the start body (413 before it is parsed), error responses whose size does not
// depend on the request, and the app's own URLs built from the configured origin, never from Host.
import { describe, expect, it } from 'vitest';
import { type RequestWithBody, readJsonBody } from '../../../shared/api/body.js';
import { ERROR_LIMITS, notFound, validationError } from '../../../shared/api/errors.js';
import { buildOpenApiDocument } from '../../../shared/api/openapi.js';
import {
  INVALID_UNICODE_REASON,
  parseListStoragesQuery,
  parseQuery,
  QUERY_VALUE_MAX_LENGTH,
  resolveStartMatch,
  START_MATCH_MAX_BODY_BYTES,
  type StartMatchDefaults,
} from '../../../shared/api/schemas.js';
import { publicUrl } from '../../../shared/api/urls.js';
import { loadSettings } from '../../../shared/config.js';

const defaults: StartMatchDefaults = {
  storageId: 'storage-001',
  overtureRelease: '2026-01-21.0',
  orbisVersion: '123456.1',
  inboxContainer: 'inbox',
};

describe('string fields are bounded', () => {
  it('refuses a 100 KB overtureRelease that matches the pattern (it used to reach GEM)', () => {
    const overtureRelease = `2026-01-21.${'0'.repeat(100_000)}`;
    const result = resolveStartMatch({ pdgFilename: 'a.parquet', overtureRelease }, defaults);
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'overtureRelease', reason: 'must be at most 32 characters long' }],
    });
  });

  it('answers a 10 MB value with one length error, without running its pattern', () => {
    const huge = '9'.repeat(10 * 1024 * 1024);
    for (const field of ['overtureRelease', 'orbisVersion', 'storageId', 'idempotencyKey', 'callbackUrl']) {
      const result = resolveStartMatch({ pdgFilename: 'a.parquet', [field]: huge }, defaults);
      expect(result.ok ? [] : result.errors.filter((e) => e.field === field)).toEqual([
        { field, reason: expect.stringMatching(/^must be at most \d+ characters long$/) },
      ]);
    }
  });

  it.each([
    ['inboxBlob', { inboxBlob: 'roads\ud800.parquet' }],
    ['pdgFilename', { pdgFilename: 'roads\udc00.parquet' }],
    ['storageId', { pdgFilename: 'a.parquet', storageId: 'storage\ud800' }],
    ['overtureRelease', { pdgFilename: 'a.parquet', overtureRelease: '\ud8002026-01-21.0' }],
    ['callbackUrl', { pdgFilename: 'a.parquet', callbackUrl: 'https://example.com/\ud800' }],
    ['idempotencyKey', { pdgFilename: 'a.parquet', idempotencyKey: 'key\udfff' }],
  ])('refuses a lone surrogate in %s as invalid Unicode, naming the field', (field, body) => {
    const result = resolveStartMatch(body, defaults);
    expect(result.ok ? [] : result.errors).toEqual([{ field, reason: INVALID_UNICODE_REASON }]);
  });

  it('accepts a blob name with well-formed characters outside the BMP', () => {
    expect(resolveStartMatch({ inboxBlob: 'routes/道路-🛣️.parquet' }, defaults).ok).toBe(true);
  });

  it('bounds every query parameter, known or not', () => {
    const long = 'x'.repeat(QUERY_VALUE_MAX_LENGTH + 1);
    expect(parseListStoragesQuery({ refresh: long })).toEqual({
      ok: false,
      errors: [{ field: 'refresh', reason: `must be at most ${QUERY_VALUE_MAX_LENGTH} characters long` }],
    });
    expect(parseListStoragesQuery({ code: long }).ok).toBe(false);
    expect(parseListStoragesQuery({ code: 'x'.repeat(QUERY_VALUE_MAX_LENGTH) }).ok).toBe(true);
    const surrogate = parseQuery(
      // A schema that accepts anything: the shared bounds alone refuse the value.
      { safeParse: (value: unknown) => ({ success: true, data: value }) } as never,
      { name: 'a\ud800' },
    );
    expect(surrogate).toEqual({ ok: false, errors: [{ field: 'name', reason: INVALID_UNICODE_REASON }] });
  });
});

describe('error responses are bounded', () => {
  it('lists at most 20 of 200 000 unknown keys and counts the rest, in a few kilobytes (it was 16 MB)', () => {
    const body: Record<string, unknown> = { pdgFilename: 'a.parquet' };
    for (let i = 0; i < 200_000; i++) body[`unknown-key-${i}`] = i;
    const result = resolveStartMatch(body, defaults);
    if (result.ok) throw new Error('expected field errors');
    expect(result.errors).toHaveLength(200_000);
    const response = validationError(result.errors);
    const { details, omittedDetails, message } = response.jsonBody.error;
    expect(details).toHaveLength(ERROR_LIMITS.details);
    expect(details?.[0]).toEqual({ field: 'unknown-key-0', reason: 'is not a known field' });
    expect(omittedDetails).toBe(200_000 - ERROR_LIMITS.details);
    expect(message).toMatch(/; and 199980 more problems\.$/);
    expect(JSON.stringify(response.jsonBody).length).toBeLessThan(8 * 1024);
  });

  it('cuts long field names and reasons and replaces unpaired surrogates, so the JSON stays well formed', () => {
    const response = validationError([
      { field: `k${'\ud800'.repeat(10)}${'y'.repeat(10_000)}`, reason: 'r'.repeat(10_000) },
    ]);
    const [detail] = response.jsonBody.error.details ?? [];
    expect(detail?.field).toHaveLength(ERROR_LIMITS.fieldLength);
    expect(detail?.field).toMatch(/^k\uFFFD{10}y+…$/);
    expect(detail?.reason).toHaveLength(ERROR_LIMITS.reasonLength);
    expect(/\p{Cs}/u.test(JSON.stringify(response))).toBe(false);
    expect(response.jsonBody.error.omittedDetails).toBeUndefined();
  });

  it('bounds a message that echoes request text', () => {
    expect(notFound(`match "${'x'.repeat(100_000)}"`).jsonBody.error.message).toHaveLength(
      ERROR_LIMITS.messageLength,
    );
  });
});

/** A request whose body is read only when `arrayBuffer` is called, counting the calls. */
function request(bytes: Uint8Array, headers: Record<string, string> = {}) {
  const reads: number[] = [];
  const fake: RequestWithBody = {
    headers: { get: (name) => headers[name.toLowerCase()] ?? null },
    async arrayBuffer() {
      reads.push(bytes.byteLength);
      return bytes.slice().buffer;
    },
  };
  return { fake, reads };
}

const encode = (text: string) => new TextEncoder().encode(text);

describe('readJsonBody', () => {
  it('refuses a declared Content-Length over the limit with 413 without reading the body', async () => {
    const { fake, reads } = request(new Uint8Array(0), {
      'content-length': String(START_MATCH_MAX_BODY_BYTES + 1),
    });
    const read = await readJsonBody(fake, START_MATCH_MAX_BODY_BYTES);
    expect(read).toMatchObject({
      ok: false,
      response: {
        status: 413,
        jsonBody: { error: { code: 'PayloadTooLarge', details: [{ field: '(body)' }] } },
      },
    });
    expect(reads).toEqual([]);
  });

  it('refuses a body over the limit that declared no length (chunked)', async () => {
    const { fake } = request(encode(`{"pdgFilename":"${'a'.repeat(START_MATCH_MAX_BODY_BYTES)}"}`));
    expect(await readJsonBody(fake, START_MATCH_MAX_BODY_BYTES)).toMatchObject({
      ok: false,
      response: { status: 413 },
    });
  });

  it('answers invalid UTF-8 with a 400 on the body, instead of decoding it to U+FFFD', async () => {
    const { fake } = request(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
    expect(await readJsonBody(fake, START_MATCH_MAX_BODY_BYTES)).toMatchObject({
      ok: false,
      response: {
        status: 400,
        jsonBody: { error: { details: [{ field: '(body)', reason: 'is not valid UTF-8' }] } },
      },
    });
  });

  it('parses a body at the limit, and an empty one as {}', async () => {
    const padded = `{"pdgFilename":"a.parquet"${' '.repeat(START_MATCH_MAX_BODY_BYTES - 27)}}`;
    expect(encode(padded).byteLength).toBe(START_MATCH_MAX_BODY_BYTES);
    expect(await readJsonBody(request(encode(padded)).fake, START_MATCH_MAX_BODY_BYTES)).toEqual({
      ok: true,
      value: { pdgFilename: 'a.parquet' },
    });
    expect(await readJsonBody(request(new Uint8Array(0)).fake, 10)).toEqual({ ok: true, value: {} });
  });
});

describe("the app's own URLs", () => {
  const base = {
    TOMTOM_API_KEY: 'local-key-123456',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    INBOX_CONTAINER: 'inbox',
    SWEEP_SCHEDULE: '0 */15 * * * *',
  };
  const origin = (env: Record<string, string>) => loadSettings({ ...base, ...env }).http.publicBaseUrl;

  it('start at https://<WEBSITE_HOSTNAME>, or http for localhost:<port> as the Functions host does', () => {
    expect(origin({ WEBSITE_HOSTNAME: 'func-gemflow.azurewebsites.net' })).toBe(
      'https://func-gemflow.azurewebsites.net',
    );
    expect(origin({ WEBSITE_HOSTNAME: 'localhost:7071' })).toBe('http://localhost:7071');
  });

  it('start at PUBLIC_BASE_URL when it is set, path prefix included', () => {
    expect(
      origin({
        WEBSITE_HOSTNAME: 'func-gemflow.azurewebsites.net',
        PUBLIC_BASE_URL: 'https://api.contoso.com/gem/',
      }),
    ).toBe('https://api.contoso.com/gem');
    expect(() => origin({ PUBLIC_BASE_URL: 'https://api.contoso.com/?x=1' })).toThrow(/PUBLIC_BASE_URL/);
    expect(() => origin({ WEBSITE_HOSTNAME: 'evil.example/path' })).toThrow(/WEBSITE_HOSTNAME/);
  });

  it('are relative to the API when no origin is configured', () => {
    expect(origin({})).toBeUndefined();
    expect(publicUrl('/api/matches/m-1', { http: { publicBaseUrl: undefined } })).toBe('/api/matches/m-1');
    expect(publicUrl('/api/matches/m-1', { http: { publicBaseUrl: 'https://api.contoso.com' } })).toBe(
      'https://api.contoso.com/api/matches/m-1',
    );
  });
});

type Schema = Record<string, unknown>;

/** Every string schema under `node` (properties, items, combinators), with the path that leads to it. */
function stringSchemas(node: unknown, path: string, found: [string, Schema][] = []): [string, Schema][] {
  if (typeof node !== 'object' || node === null) return found;
  const schema = node as Schema;
  if (schema.type === 'string') found.push([path, schema]);
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties') {
      for (const [name, property] of Object.entries(value as Schema))
        stringSchemas(property, `${path}.${name}`, found);
    } else if (key === 'items' || key === 'anyOf' || key === 'oneOf' || key === 'allOf') {
      for (const item of [value].flat()) stringSchemas(item, `${path}[]`, found);
    }
  }
  return found;
}

describe('the OpenAPI document states the limits', () => {
  const document = buildOpenApiDocument();
  const bounded = (schema: Schema) =>
    typeof schema.maxLength === 'number' || 'enum' in schema || 'const' in schema;

  it('gives every string field of the start request a maxLength', () => {
    const fields = stringSchemas(document.components.schemas.StartMatchRequest, 'StartMatchRequest');
    expect(fields.map(([path]) => path)).toEqual(
      expect.arrayContaining(['StartMatchRequest.inboxBlob', 'StartMatchRequest.overtureRelease']),
    );
    expect(fields.filter(([, schema]) => !bounded(schema)).map(([path]) => path)).toEqual([]);
    expect(
      (document.components.schemas.StartMatchRequest.properties as Record<string, Schema>).overtureRelease,
    ).toMatchObject({ maxLength: 32 });
  });

  it('gives every string parameter (path and query) a maxLength', () => {
    const parameters = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, operation]) =>
        ((operation as { parameters?: { name: string; schema: Schema }[] }).parameters ?? []).map(
          (parameter) => [`${method.toUpperCase()} ${path} ${parameter.name}`, parameter.schema] as const,
        ),
      ),
    );
    expect(parameters.length).toBeGreaterThan(3);
    const unbounded = parameters.filter(([, schema]) => schema.type === 'string' && !bounded(schema));
    expect(unbounded.map(([name]) => name)).toEqual([]);
  });

  it('documents the 413 of the start operation and the bounded error envelope', () => {
    const start = document.paths['/api/matches']?.post as {
      requestBody: { description: string };
      responses: Record<string, unknown>;
    };
    expect(start.responses['413']).toBeDefined();
    expect(start.requestBody.description).toContain(String(START_MATCH_MAX_BODY_BYTES));
    const error = (document.components.schemas.ErrorEnvelope.properties as Record<string, Schema>).error;
    const { details, omittedDetails } = (error as { properties: Record<string, Schema> }).properties;
    expect(details).toMatchObject({ maxItems: ERROR_LIMITS.details });
    expect(omittedDetails).toMatchObject({ type: 'integer' });
  });
});
