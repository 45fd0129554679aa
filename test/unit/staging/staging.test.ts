/**
 * Unit tests of `shared/staging/` (naming, errors, the PDG container client): contentDerivedName;
 * toStagingError; pdgContainerClient.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StagingError, toStagingError } from '../../../shared/staging/errors.js';
import { contentDerivedName } from '../../../shared/staging/names.js';
import { pdgContainerClient } from '../../../shared/staging/pdgContainer.js';

const sha = createHash('sha256').update('roads').digest('hex');
const short = sha.slice(0, 12);

describe('contentDerivedName', () => {
  it('puts the first 12 hex characters between stem and extension', () => {
    expect(contentDerivedName('roads.parquet', sha)).toBe(`roads.${short}.parquet`);
    expect(contentDerivedName('inbox/2026/roads.PARQUET', sha)).toBe(`roads.${short}.parquet`);
    expect(contentDerivedName('README', sha)).toBe(`README.${short}`);
  });

  it('sanitises to blob- and CLI-friendly characters', () => {
    expect(contentDerivedName('Straßen Nord (v2)#1.parquet', sha)).toBe(`Stra-en-Nord-v2-1.${short}.parquet`);
    expect(contentDerivedName('café.parquet', sha)).toBe(`cafe.${short}.parquet`);
    expect(contentDerivedName('...parquet', sha)).toBe(`input.${short}.parquet`);
    expect(contentDerivedName('a'.repeat(500) + '.parquet', sha).length).toBeLessThan(160);
  });

  it('is idempotent on its own output and differs by content', () => {
    const once = contentDerivedName('roads.parquet', sha);
    expect(contentDerivedName(once, sha)).toBe(once);
    const other = createHash('sha256').update('other').digest('hex');
    expect(contentDerivedName('roads.parquet', other)).not.toBe(once);
  });

  it('rejects anything that is not a sha256 hex digest', () => {
    expect(() => contentDerivedName('roads.parquet', 'abc')).toThrow(TypeError);
  });
});

describe('toStagingError', () => {
  const url = 'https://pdg.blob.core.windows.net/default/roads.parquet?sv=1&sig=SAS-SIGNATURE';
  const restError = (statusCode: number, errorCode: string, message = errorCode) =>
    Object.assign(new Error(message), {
      name: 'RestError',
      statusCode,
      code: errorCode,
      details: { errorCode },
    });

  it('explains a 403 permission mismatch on the PDG container as a missing role', () => {
    const err = toStagingError(restError(403, 'AuthorizationPermissionMismatch'), {
      side: 'pdg',
      action: 'uploading to',
      url,
    });
    expect(err).toBeInstanceOf(StagingError);
    expect(err.code).toBe('PDG_FORBIDDEN');
    expect(err.message).toMatch(/Storage Blob Data Contributor/);
    expect(err.message).not.toContain('SAS-SIGNATURE');
    expect(err.retriable).toBe(false);
    expect(err.cause).toBeDefined();
  });

  it('tells a 403 on the app storage apart from one on the PDG storage', () => {
    expect(
      toStagingError(restError(403, 'AuthorizationPermissionMismatch'), { side: 'app', action: 'x', url })
        .code,
    ).toBe('APP_STORAGE_FORBIDDEN');
    expect(
      toStagingError(restError(403, 'AuthenticationFailed'), { side: 'pdg', action: 'x', url }).code,
    ).toBe('PDG_TOKEN_REJECTED');
  });

  it('never repeats a secret found in the cause', () => {
    const secret = 'abc~SuperSecretValue123';
    const cause = Object.assign(new Error(`invalid_client: client_secret ${secret} rejected`), {
      name: 'AuthenticationError',
    });
    const err = toStagingError(cause, { side: 'pdg', action: 'x', url, secrets: [secret] });
    expect(err.code).toBe('PDG_AUTH_FAILED');
    expect(err.message).not.toContain(secret);
  });

  it('marks throttling, server errors and connection failures retriable, and 404/412 not', () => {
    const map = (e: unknown) => toStagingError(e, { side: 'pdg', action: 'x', url });
    expect(map(restError(503, 'ServerBusy')).retriable).toBe(true);
    expect(map(restError(429, 'TooManyRequests')).retriable).toBe(true);
    expect(map(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).retriable).toBe(true);
    expect(map(restError(404, 'BlobNotFound')).code).toBe('SOURCE_NOT_FOUND');
    expect(map(restError(404, 'ContainerNotFound')).code).toBe('PDG_CONTAINER_NOT_FOUND');
    expect(map(restError(412, 'ConditionNotMet')).code).toBe('SOURCE_CHANGED');
    expect(map(new TypeError('bug')).retriable).toBe(false);
  });
});

describe('pdgContainerClient', () => {
  const access = {
    containerUrl: 'https://pdgstorage.blob.core.windows.net/default/',
    clientId: '00000000-0000-0000-0000-000000000001',
    clientSecret: 'secret-value',
  };

  it('targets the container from data.url without a trailing slash', () => {
    const client = pdgContainerClient({ ...access, tenantId: 'tenant' });
    expect(client.containerName).toBe('default');
    expect(client.getBlobClient('a.parquet').url).toBe(
      'https://pdgstorage.blob.core.windows.net/default/a.parquet',
    );
  });

  it('uses the fallback tenant when the unwrap has none, and fails clearly without one', () => {
    expect(pdgContainerClient({ ...access, tenantId: null }, { fallbackTenantId: 't' }).containerName).toBe(
      'default',
    );
    const err = (() => {
      try {
        pdgContainerClient({ ...access, tenantId: null });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(StagingError);
    expect((err as StagingError).code).toBe('PDG_TENANT_MISSING');
    expect((err as Error).message).not.toContain('secret-value');
  });
});
