/**
 * Unit tests of `shared/api/errors.ts`: error envelope builders; fieldPath; fieldErrorsFromZod.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  conflict,
  fieldErrorsFromZod,
  fieldPath,
  notFound,
  validationError,
} from '../../../shared/api/errors.js';

describe('error envelope builders', () => {
  it('validationError is a 400 whose message lists every field', () => {
    const response = validationError([
      { field: 'callbackUrl', reason: 'must use https' },
      { field: 'storageId', reason: 'is required' },
    ]);
    expect(response).toEqual({
      status: 400,
      jsonBody: {
        error: {
          code: 'ValidationFailed',
          message: 'The request is invalid: callbackUrl must use https; storageId is required.',
          details: [
            { field: 'callbackUrl', reason: 'must use https' },
            { field: 'storageId', reason: 'is required' },
          ],
        },
      },
    });
  });

  it('other builders carry their status and stable code, without empty details', () => {
    expect(notFound('match "m-1"')).toEqual({
      status: 404,
      jsonBody: { error: { code: 'NotFound', message: 'No match "m-1" exists.' } },
    });
    expect(conflict('already finished')).toEqual({
      status: 409,
      jsonBody: { error: { code: 'Conflict', message: 'already finished' } },
    });
  });
});

describe('fieldPath', () => {
  it.each([
    [[], '(body)'],
    [['callbackUrl'], 'callbackUrl'],
    [['source', 'blobName'], 'source.blobName'],
    [['status', 1], 'status[1]'],
  ] as const)('%j → %s', (path, expected) => {
    expect(fieldPath(path)).toBe(expected);
  });
});

describe('fieldErrorsFromZod', () => {
  const schema = z.strictObject({
    name: z.string().min(2).max(4),
    kind: z.enum(['a', 'b']),
    tags: z.array(z.string()).max(1).optional(),
    size: z.number().min(1).optional(),
    code: z.string().regex(/^x/, { message: 'must start with x' }).optional(),
  });
  const errorsFor = (value: unknown) => {
    const result = schema.safeParse(value, { reportInput: true });
    return result.success ? [] : fieldErrorsFromZod(result.error.issues);
  };

  it('says a missing field is required', () => {
    expect(errorsFor({ kind: 'a' })).toEqual([{ field: 'name', reason: 'is required' }]);
  });

  it('says a missing field is required even when the input was not reported', () => {
    const result = schema.safeParse({ kind: 'a' });
    expect(result.success ? [] : fieldErrorsFromZod(result.error.issues)).toEqual([
      { field: 'name', reason: 'is required' },
    ]);
  });

  it('describes wrong types, enums, sizes, unknown keys and custom messages', () => {
    expect(
      errorsFor({ name: 5, kind: 'c', tags: ['1', '2'], size: 0, code: 'y', other: true, more: 1 }),
    ).toEqual([
      { field: 'name', reason: 'must be a string' },
      { field: 'kind', reason: 'must be one of a, b' },
      { field: 'tags', reason: 'must have at most 1 entries' },
      { field: 'size', reason: 'must be at least 1' },
      { field: 'code', reason: 'must start with x' },
      { field: 'other', reason: 'is not a known field' },
      { field: 'more', reason: 'is not a known field' },
    ]);
    expect(errorsFor({ name: 'x', kind: 'a' })).toEqual([
      { field: 'name', reason: 'must be at least 2 characters long' },
    ]);
    expect(errorsFor({ name: 'xxxxx', kind: 'a' })).toEqual([
      { field: 'name', reason: 'must be at most 4 characters long' },
    ]);
  });

  it('reports a non-object body at the body level', () => {
    expect(errorsFor('text')).toEqual([{ field: '(body)', reason: 'must be a JSON object' }]);
  });
});
