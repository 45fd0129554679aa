// Property tests of the HTTP API's input handling: random and adversarial bodies, values and query strings
// (lone surrogates, control characters, escapes, huge and deeply nested values, unknown keys) never make the
// parsers throw; each input gives either a value or field errors, and the error response built from them stays
// within a fixed size and is well-formed Unicode, whatever the input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonBytes, readJsonBody } from '../../../shared/api/body.js';
import { ERROR_LIMITS, type FieldError, validationError } from '../../../shared/api/errors.js';
import {
  CALLBACK_URL_MAX_LENGTH,
  parseJsonBody,
  parseListMatchesQuery,
  parseListStoragesQuery,
  type Resolution,
  resolveStartMatch,
  type StartMatchDefaults,
  startMatchRequestSchema,
  VERSION_MAX_LENGTH,
} from '../../../shared/api/schemas.js';
import { parseAllowList } from '../../../shared/workflow/callbackTarget.js';

const RUNS = { numRuns: 300 };

const defaults: StartMatchDefaults = {
  storageId: 'storage-001',
  overtureRelease: '2026-01-21.0',
  orbisVersion: '123456.1',
  inboxContainer: 'inbox',
  callbackAllowList: parseAllowList('127.0.0.1').allowList,
};

/** Any UTF-16 code unit, lone surrogates included (fast-check's own units never produce those). */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

/** Pieces that have broken parsers before: surrogates, NUL, escapes, path tricks, bidi controls, URL parts. */
const hostilePiece = fc.constantFrom(
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u0000',
  '\u202e',
  '\ufeff',
  '%',
  '%ZZ',
  '%ED%A0%80',
  '..',
  '/',
  '\\',
  '"',
  '\n',
  'https://',
  '127.0.0.1',
  '[::1]',
  '@',
  '2026-01-21.',
  '123456.',
);

/** A string mixing any code units and hostile pieces, sometimes far longer than any field allows. */
const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.oneof(codeUnit, hostilePiece), maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(hostilePiece, fc.constant('9')), fc.integer({ min: 1, max: 20_000 }))
      .map(([piece, times]) => piece.repeat(times)),
  },
);

const shortHostileString = fc.string({ unit: fc.oneof(codeUnit, hostilePiece), maxLength: 10 });

/** A value of any JSON type (and a few that are not JSON), as a field may hold it. */
const hostileValue = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
);

const FIELDS = [
  'storageId',
  'inboxBlob',
  'pdgFilename',
  'jobType',
  'overtureRelease',
  'orbisVersion',
  'callbackUrl',
  'idempotencyKey',
] as const;

/** A body shaped like a start request: some known fields with hostile values, and maybe unknown keys. */
const startBody = fc
  .tuple(
    fc.record(Object.fromEntries(FIELDS.map((field) => [field, hostileValue])), { requiredKeys: [] }),
    fc.dictionary(hostileString, hostileValue, { maxKeys: 30 }),
  )
  .map(([known, unknown]) => ({ ...unknown, ...known }));

/** Nested arrays and objects up to a few thousand levels deep. */
const deepValue = fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.boolean()).map(([depth, objects]) => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = objects ? { inboxBlob: value } : [value];
  return value;
});

/** The longest an error envelope can be: listed details at their caps, plus the message that repeats them. */
const MAX_ENVELOPE_CHARS =
  2 * ERROR_LIMITS.details * (ERROR_LIMITS.fieldLength + ERROR_LIMITS.reasonLength + 40) + 200;

function expectBoundedErrors(result: Resolution<unknown>): void {
  if (result.ok) return;
  expect(result.errors.length).toBeGreaterThan(0);
  for (const error of result.errors) {
    expect(typeof error.field).toBe('string');
    expect(typeof error.reason).toBe('string');
  }
  expectBoundedEnvelope(result.errors);
}

function expectBoundedEnvelope(errors: FieldError[]): void {
  const json = JSON.stringify(validationError(errors).jsonBody);
  expect(json.length).toBeLessThanOrEqual(MAX_ENVELOPE_CHARS);
  expect(/\p{Cs}/u.test(json)).toBe(false);
}

describe('parseJsonBody and parseJsonBytes', () => {
  it('never throw on any text: a value, or one error on the body', () => {
    const text = fc.oneof(fc.json(), fc.string({ unit: fc.oneof(codeUnit, hostilePiece), maxLength: 200 }));
    const mutated = fc.tuple(fc.json(), fc.nat(), hostileString).map(([json, at, insert]) => {
      const cut = at % (json.length + 1);
      return json.slice(0, cut) + insert + json.slice(cut);
    });
    fc.assert(
      fc.property(fc.oneof(text, mutated), (input) => {
        const result = parseJsonBody(input);
        if (!result.ok) expect(result.errors.map((e) => e.field)).toEqual(['(body)']);
        expectBoundedErrors(result);
      }),
      RUNS,
    );
  });

  it('never throw on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => expectBoundedErrors(parseJsonBytes(bytes))),
      RUNS,
    );
  });

  it('readJsonBody answers every body and Content-Length with a value, a 400 or a 413', async () => {
    const declared = fc.option(fc.oneof(fc.nat().map(String), hostileString), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        declared,
        fc.nat({ max: 400 }),
        async (bytes, length, limit) => {
          const read = await readJsonBody(
            {
              headers: { get: (name) => (name === 'content-length' ? (length ?? null) : null) },
              arrayBuffer: async () => bytes.slice().buffer,
            },
            limit,
          );
          if (!read.ok) {
            expect([400, 413]).toContain(read.response.status);
            if (bytes.byteLength > limit) expect(read.response.status).toBe(413);
          } else expect(bytes.byteLength).toBeLessThanOrEqual(limit);
        },
      ),
      RUNS,
    );
  });
});

describe('the start request schema and resolveStartMatch', () => {
  it('never throw on request-shaped hostile bodies, and what they accept is bounded and well formed', () => {
    fc.assert(
      fc.property(startBody, (body) => {
        expect(() => startMatchRequestSchema.safeParse(body, { reportInput: true })).not.toThrow();
        const result = resolveStartMatch(body, defaults);
        expectBoundedErrors(result);
        if (result.ok) {
          const spec = result.value;
          const name = spec.source.kind === 'inbox' ? spec.source.blobName : spec.source.filename;
          expect(name.length).toBeLessThanOrEqual(1024);
          expect(/\p{Cs}/u.test(JSON.stringify(spec))).toBe(false);
          expect((spec.overtureRelease ?? '').length).toBeLessThanOrEqual(VERSION_MAX_LENGTH);
          expect((spec.orbisVersion ?? '').length).toBeLessThanOrEqual(VERSION_MAX_LENGTH);
          expect((spec.callbackUrl ?? '').length).toBeLessThanOrEqual(CALLBACK_URL_MAX_LENGTH);
        }
      }),
      RUNS,
    );
  });

  it('never throw on anything at all, deep nesting included', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), deepValue), (body) =>
        expectBoundedErrors(resolveStartMatch(body, defaults)),
      ),
      RUNS,
    );
  });

  it('keep the error response bounded for bodies with thousands of unknown keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 21, max: 5_000 }), shortHostileString, (count, prefix) => {
        const body: Record<string, unknown> = { pdgFilename: 'a.parquet' };
        for (let i = 0; i < count; i++) body[`${prefix}${i}`] = i;
        const result = resolveStartMatch(body, defaults);
        expectBoundedErrors(result);
        expect(result.ok).toBe(false);
        if (!result.ok)
          expect(validationError(result.errors).jsonBody.error.omittedDetails).toBeGreaterThan(0);
      }),
      { numRuns: 50 },
    );
  });
});

describe('query parsing', () => {
  const query = fc.dictionary(
    fc.oneof(fc.constantFrom('status', 'createdFrom', 'createdTo', 'top', 'refresh', 'code'), hostileString),
    hostileString,
    { maxKeys: 8 },
  );

  it('never throws on hostile parameters, as a record or as URLSearchParams', () => {
    fc.assert(
      fc.property(query, (parameters) => {
        expectBoundedErrors(parseListMatchesQuery(parameters));
        expectBoundedErrors(parseListStoragesQuery(parameters));
        expectBoundedErrors(parseListMatchesQuery(new URLSearchParams(parameters)));
      }),
      RUNS,
    );
  });

  it('never throws on a raw query string, malformed escapes included', () => {
    const raw = fc.string({
      unit: fc.oneof(codeUnit, hostilePiece, fc.constantFrom('&', '=', '+', '%2')),
      maxLength: 80,
    });
    fc.assert(
      fc.property(raw, (search) => {
        expectBoundedErrors(parseListMatchesQuery(new URLSearchParams(search)));
        expectBoundedErrors(parseListStoragesQuery(new URLSearchParams(search)));
      }),
      RUNS,
    );
  });
});
