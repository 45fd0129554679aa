/**
 * Unit tests of `shared/api/listing.ts`: planListMatches; parseListMatchesQuery continuationToken.
 */
import { describe, expect, it } from 'vitest';
import { encodeContinuationToken, planListMatches } from '../../../shared/api/listing.js';
import { parseListMatchesQuery } from '../../../shared/api/schemas.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');

function plan(query: string, now = NOW) {
  const parsed = parseListMatchesQuery(new URLSearchParams(query));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return planListMatches(parsed.value, now);
}

describe('planListMatches', () => {
  it('defaults to the last 7 days, no upper bound, 50 a page', () => {
    expect(plan('')).toEqual({
      ok: true,
      value: {
        from: new Date('2026-02-22T12:00:00.000Z'),
        to: undefined,
        status: undefined,
        after: undefined,
        limit: 50,
      },
    });
  });

  it('counts the default window back from createdTo when only that is given', () => {
    const result = plan('createdTo=2026-01-10T00:00:00Z&top=5&status=Failed');
    expect(result).toMatchObject({
      ok: true,
      value: {
        from: new Date('2026-01-03T00:00:00.000Z'),
        to: new Date('2026-01-10T00:00:00.000Z'),
        status: ['Failed'],
        limit: 5,
      },
    });
  });

  it('continues from a token with the first request’s window and filters, whatever now is', () => {
    const first = plan('status=Completed,Failed&createdFrom=2026-02-01T00:00:00Z');
    if (!first.ok) throw new Error('first page');
    const token = encodeContinuationToken(first.value, {
      createdTime: '2026-02-20T08:00:00.000Z',
      instanceId: 'match-0a',
    });
    const later = new Date('2026-03-09T00:00:00Z');
    for (const query of [
      `continuationToken=${token}`,
      `continuationToken=${token}&status=Failed,Completed&createdFrom=2026-02-01T00:00:00.000Z&top=7`,
    ]) {
      expect(plan(query, later)).toMatchObject({
        ok: true,
        value: {
          from: new Date('2026-02-01T00:00:00Z'),
          to: undefined,
          status: ['Completed', 'Failed'],
          after: { createdTime: '2026-02-20T08:00:00.000Z', instanceId: 'match-0a' },
        },
      });
    }
  });

  it('refuses a token with other filters, naming them', () => {
    const first = plan('status=Completed');
    if (!first.ok) throw new Error('first page');
    const token = encodeContinuationToken(first.value, { createdTime: NOW.toISOString(), instanceId: 'x' });
    expect(plan(`continuationToken=${token}&status=Running&createdTo=2026-03-01T00:00:00Z`)).toEqual({
      ok: false,
      errors: [
        {
          field: 'continuationToken',
          reason: expect.stringMatching(/^was issued for another status, createdTo; /),
        },
      ],
    });
  });

  it.each([
    ['not base64 JSON', 'bm90LWpzb24'],
    ['JSON of another shape', Buffer.from('{"v":2,"from":"x"}').toString('base64url')],
    [
      'a cursor with extra fields',
      Buffer.from(
        JSON.stringify({
          v: 1,
          from: NOW.toISOString(),
          after: { createdTime: NOW.toISOString(), instanceId: 'a', skip: 1 },
        }),
      ).toString('base64url'),
    ],
  ])('refuses a token that is %s', (_what, token) => {
    expect(plan(`continuationToken=${token}`)).toEqual({
      ok: false,
      errors: [{ field: 'continuationToken', reason: expect.stringMatching(/^is not a continuation token/) }],
    });
  });
});

describe('parseListMatchesQuery continuationToken', () => {
  it.each([
    ['characters outside base64url', 'abc+/='],
    ['more than 2048 characters', 'a'.repeat(2049)],
  ])('rejects a token with %s before decoding it', (_what, token) => {
    const result = parseListMatchesQuery(new URLSearchParams({ continuationToken: token }));
    expect(result).toMatchObject({ ok: false, errors: [{ field: 'continuationToken' }] });
  });
});
