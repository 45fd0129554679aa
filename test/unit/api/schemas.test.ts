/**
 * Unit tests of `shared/api/schemas.ts`: resolveStartMatch; parseJsonBody; parseListMatchesQuery;
 * parseListStoragesQuery.
 */
import { describe, expect, it } from 'vitest';
import {
  parseJsonBody,
  parseListMatchesQuery,
  parseListStoragesQuery,
  resolveStartMatch,
  type StartMatchDefaults,
} from '../../../shared/api/schemas.js';
import { parseAllowList } from '../../../shared/workflow/callbackTarget.js';

const defaults: StartMatchDefaults = {
  storageId: 'storage-001',
  jobType: 'ROAD_MATCHING',
  overtureRelease: '2026-01-21.0',
  orbisVersion: '123456.1',
  inboxContainer: 'inbox',
};

describe('resolveStartMatch', () => {
  it('applies every default to a minimal inbox request', () => {
    expect(resolveStartMatch({ inboxBlob: 'roads/a.parquet' }, defaults)).toEqual({
      ok: true,
      value: {
        source: { kind: 'inbox', container: 'inbox', blobName: 'roads/a.parquet' },
        storageId: 'storage-001',
        jobType: 'ROAD_MATCHING',
        overtureRelease: '2026-01-21.0',
      },
    });
  });

  it('prefers the body over defaults, and keeps only the version field of the job type', () => {
    const result = resolveStartMatch(
      {
        pdgFilename: 'traces.csv',
        storageId: 'storage-002',
        jobType: 'LANE_LEVEL_MATCHING',
        orbisVersion: '999.2',
        callbackUrl: 'https://example.com/hook',
      },
      defaults,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        source: { kind: 'pdg', filename: 'traces.csv' },
        storageId: 'storage-002',
        jobType: 'LANE_LEVEL_MATCHING',
        orbisVersion: '999.2',
        callbackUrl: 'https://example.com/hook',
      },
    });
  });

  it('uses the configured job type when the body has none', () => {
    const result = resolveStartMatch(
      { inboxBlob: 'a.parquet' },
      { ...defaults, jobType: 'LANE_LEVEL_MATCHING' },
    );
    expect(result).toMatchObject({
      ok: true,
      value: { jobType: 'LANE_LEVEL_MATCHING', orbisVersion: '123456.1' },
    });
  });

  it('falls back to ROAD_MATCHING without a configured job type', () => {
    const { jobType: _omitted, ...withoutJobType } = defaults;
    expect(resolveStartMatch({ inboxBlob: 'a.parquet' }, withoutJobType)).toMatchObject({
      ok: true,
      value: { jobType: 'ROAD_MATCHING' },
    });
  });

  it('needs a storage id from the body or the settings', () => {
    const { storageId: _omitted, ...noStorage } = defaults;
    expect(resolveStartMatch({ inboxBlob: 'a.parquet' }, noStorage)).toEqual({
      ok: false,
      errors: [{ field: 'storageId', reason: 'is required: no default storage is configured for this app' }],
    });
  });

  it('needs an Overture release for ROAD_MATCHING and an Orbis version for LANE_LEVEL_MATCHING', () => {
    const bare: StartMatchDefaults = { storageId: 's', inboxContainer: 'inbox' };
    expect(resolveStartMatch({ inboxBlob: 'a.parquet' }, bare)).toMatchObject({
      ok: false,
      errors: [{ field: 'overtureRelease', reason: expect.stringMatching(/required for ROAD_MATCHING/) }],
    });
    expect(resolveStartMatch({ inboxBlob: 'a.parquet', jobType: 'LANE_LEVEL_MATCHING' }, bare)).toMatchObject(
      {
        ok: false,
        errors: [
          { field: 'orbisVersion', reason: expect.stringMatching(/required for LANE_LEVEL_MATCHING/) },
        ],
      },
    );
  });

  it('reports a malformed configured default instead of sending it to GEM', () => {
    const result = resolveStartMatch({ inboxBlob: 'a.parquet' }, { ...defaults, overtureRelease: 'latest' });
    expect(result).toMatchObject({
      ok: false,
      errors: [
        {
          field: 'overtureRelease',
          reason: expect.stringMatching(/configured default "latest" is malformed/),
        },
      ],
    });
  });

  it('refuses the other job type’s version field when given in the body', () => {
    expect(resolveStartMatch({ inboxBlob: 'a.parquet', orbisVersion: '1.1' }, defaults)).toEqual({
      ok: false,
      errors: [{ field: 'orbisVersion', reason: 'applies only to LANE_LEVEL_MATCHING jobs' }],
    });
  });

  it('names the field of every problem, and lists several at once', () => {
    const result = resolveStartMatch(
      { inboxBlob: '/etc/passwd', jobType: 'road', callbackUrl: 'http://example.com', extra: 1 },
      defaults,
    );
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(errors.map((error) => error.field).sort()).toEqual([
      'callbackUrl',
      'extra',
      'inboxBlob',
      'jobType',
    ]);
    expect(errors).toContainEqual({ field: 'extra', reason: 'is not a known field' });
    expect(errors).toContainEqual({
      field: 'jobType',
      reason: 'must be one of ROAD_MATCHING, LANE_LEVEL_MATCHING',
    });
  });

  it('explains a missing or doubled source', () => {
    expect(resolveStartMatch({}, defaults)).toEqual({
      ok: false,
      errors: [
        {
          field: 'source',
          reason:
            'is missing: give inboxBlob (a file in the inbox) or pdgFilename (a file already in PDG storage)',
        },
      ],
    });
    expect(resolveStartMatch({ inboxBlob: 'a', pdgFilename: 'b' }, defaults)).toMatchObject({
      ok: false,
      errors: [{ field: 'source', reason: expect.stringMatching(/not both/) }],
    });
  });

  it('gives one readable reason per callback URL problem', () => {
    const result = resolveStartMatch(
      { inboxBlob: 'a', callbackUrl: 'https://user:pw@example.com/' },
      defaults,
    );
    expect(result).toMatchObject({ ok: false, errors: [{ field: 'callbackUrl' }] });
  });

  it('refuses each callback target inside the network with a 400 reason naming the field and why', () => {
    const cases: [string, RegExp][] = [
      ['https://10.0.0.1/hook', /10\.0\.0\.1 is a private address \(RFC 1918\)/],
      ['https://169.254.169.254/metadata/identity/oauth2/token', /169\.254\.169\.254 is a link-local/],
      ['https://127.0.0.1/', /127\.0\.0\.1 is a loopback address/],
      ['https://[::1]/', /::1 is a loopback address/],
      ['https://[fe80::1]/', /fe80::1 is a link-local address/],
      ['https://0.0.0.0/', /0\.0\.0\.0 is the unspecified address/],
      ['https://2130706433/', /127\.0\.0\.1 is a loopback address/],
      ['https://0x7f000001/', /127\.0\.0\.1 is a loopback address/],
      ['https://localhost./', /localhost\. is a special-use name/],
      [
        'http://127.0.0.1:9000/done',
        /must use https \(http is accepted only for hosts listed in NOTIFY_ALLOWED_HOSTS\)/,
      ],
    ];
    for (const [callbackUrl, reason] of cases) {
      const result = resolveStartMatch({ inboxBlob: 'a.parquet', callbackUrl }, defaults);
      expect(result, callbackUrl).toEqual({
        ok: false,
        errors: [{ field: 'callbackUrl', reason: expect.stringMatching(reason) }],
      });
    }
  });

  it('admits the hosts of the allow-list, http included', () => {
    const local = { ...defaults, callbackAllowList: parseAllowList('127.0.0.1').allowList };
    expect(
      resolveStartMatch({ inboxBlob: 'a', callbackUrl: 'http://127.0.0.1:9000/done' }, local),
    ).toMatchObject({
      ok: true,
      value: { callbackUrl: 'http://127.0.0.1:9000/done' },
    });
    expect(
      resolveStartMatch({ inboxBlob: 'a', callbackUrl: 'http://localhost:9000/done' }, local),
    ).toMatchObject({
      ok: false,
      errors: [{ field: 'callbackUrl' }],
    });
  });

  it('rejects a body that is not an object', () => {
    expect(resolveStartMatch([], defaults)).toEqual({
      ok: false,
      errors: [{ field: '(body)', reason: 'must be a JSON object' }],
    });
  });
});

describe('parseJsonBody', () => {
  it('parses JSON and treats an empty body as {}', () => {
    expect(parseJsonBody('{"inboxBlob":"a"}')).toEqual({ ok: true, value: { inboxBlob: 'a' } });
    expect(parseJsonBody('  ')).toEqual({ ok: true, value: {} });
  });

  it('reports invalid JSON as a body error', () => {
    const result = parseJsonBody('{"inboxBlob":');
    expect(result).toMatchObject({
      ok: false,
      errors: [{ field: '(body)', reason: expect.stringMatching(/^is not valid JSON/) }],
    });
  });
});

describe('parseListMatchesQuery', () => {
  it('splits statuses and coerces top', () => {
    const query = new URLSearchParams(
      'status=Running,Pending&top=25&createdFrom=2026-02-18T00:00:00Z&code=secret-key',
    );
    expect(parseListMatchesQuery(query)).toEqual({
      ok: true,
      value: { status: ['Running', 'Pending'], top: 25, createdFrom: '2026-02-18T00:00:00Z' },
    });
  });

  it.each([
    ['status=running', 'status'],
    ['status=Running,,Failed', 'status'],
    ['top=0', 'top'],
    ['top=101', 'top'],
    ['top=2.5', 'top'],
    ['createdFrom=yesterday', 'createdFrom'],
    ['createdFrom=2026-02-19T00:00:00Z&createdTo=2026-02-18T00:00:00Z', 'createdTo'],
  ])('rejects %s on field %s', (query, field) => {
    const result = parseListMatchesQuery(new URLSearchParams(query));
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.map((error) => error.field)).toEqual([field]);
  });
});

describe('resolveStartMatch: incremental options', () => {
  const previous = 'match-0123456789abcdef0123456789abcdef';
  const fieldsOf = (body: Record<string, unknown>, extra: Partial<StartMatchDefaults> = {}) => {
    const result = resolveStartMatch({ inboxBlob: 'roads.parquet', ...body }, { ...defaults, ...extra });
    return result.ok
      ? { incremental: result.value.incremental, previousMatchId: result.value.previousMatchId }
      : { errors: result.errors.map((error) => error.field) };
  };

  it('is off unless asked for, by the body or the setting', () => {
    expect(fieldsOf({})).toEqual({ incremental: undefined, previousMatchId: undefined });
    expect(fieldsOf({ incremental: true })).toEqual({ incremental: true, previousMatchId: undefined });
    expect(fieldsOf({}, { incremental: true })).toEqual({ incremental: true, previousMatchId: undefined });
    expect(fieldsOf({ incremental: false }, { incremental: true })).toEqual({
      incremental: undefined,
      previousMatchId: undefined,
    });
  });

  it('takes a previous match id, which implies incremental', () => {
    expect(fieldsOf({ previousMatchId: previous })).toEqual({ incremental: true, previousMatchId: previous });
  });

  it.each([
    [{ previousMatchId: 'match-123' }, 'previousMatchId'],
    [{ previousMatchId: 'MATCH-0123456789ABCDEF0123456789ABCDEF' }, 'previousMatchId'],
    [{ previousMatchId: 42 }, 'previousMatchId'],
    [{ incremental: 'yes' }, 'incremental'],
    [{ previousMatchId: previous, incremental: false }, 'incremental'],
    [{ previousMatchId: previous, jobType: 'LANE_LEVEL_MATCHING' }, 'previousMatchId'],
    [{ incremental: true, jobType: 'LANE_LEVEL_MATCHING' }, 'incremental'],
  ])('refuses %j naming %s', (body, field) => {
    expect(fieldsOf(body)).toEqual({ errors: [field] });
  });

  it('refuses it for a file already in PDG storage, and leaves the setting out there', () => {
    const pdg = (body: Record<string, unknown>, extra: Partial<StartMatchDefaults> = {}) =>
      resolveStartMatch({ pdgFilename: 'roads.parquet', ...body }, { ...defaults, ...extra });
    expect(pdg({ incremental: true })).toMatchObject({ ok: false, errors: [{ field: 'incremental' }] });
    expect(pdg({}, { incremental: true })).toMatchObject({ ok: true, value: { source: { kind: 'pdg' } } });
    expect(pdg({}, { incremental: true })).not.toHaveProperty('value.incremental');
  });
});

describe('parseListStoragesQuery', () => {
  it.each([
    ['refresh=true', true],
    ['refresh=1', true],
    ['refresh=false', false],
    ['', false],
  ])('%j → refresh %s', (query, refresh) => {
    expect(parseListStoragesQuery(new URLSearchParams(query))).toEqual({ ok: true, value: { refresh } });
  });

  it('rejects other values', () => {
    expect(parseListStoragesQuery({ refresh: 'yes' })).toMatchObject({
      ok: false,
      errors: [{ field: 'refresh' }],
    });
  });
});
