/**
 * Unit tests of `shared/tomtom/client.ts`: TomTom client: requests; TomTom client: create job; TomTom client:
 * authentication failures; Vault unwrap.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import packageJson from '../../../package.json';
import {
  ApiKeyProductsMissingError,
  ExpiredAccessTokenError,
  InvalidAccessTokenError,
  InvalidApiKeyError,
  JobRequestValidationError,
  ResourceAccessDeniedError,
  TomTomForbiddenError,
  TomTomNetworkError,
  TomTomNotFoundError,
  TomTomResponseError,
  TomTomServiceError,
  TomTomThrottledError,
  TomTomUnauthorizedError,
  VaultUnwrapError,
} from '../../../shared/tomtom/errors.js';
import { API_KEYS, networkError, testClient } from './fakes.js';

const STORAGE = { id: 'storage-001', name: 'Production Data', createdAt: '2026-01-15T09:00:00Z' };
const JOB = {
  job_type: 'ROAD_MATCHING',
  overture_release: '2026-01-21.0',
  input_filename: 'test_data.parquet',
  job_id: 123456789,
  requested_at: '2026-02-18T10:38:59.031762Z',
  result_filename: null,
  statistics: null,
  status: 'REQUESTED',
  storage_id: 'storage-001',
};
const ROAD_JOB_REQUEST = {
  storageId: 'storage-001',
  filename: 'roads.parquet',
  jobType: 'ROAD_MATCHING',
  overtureRelease: '2026-01-21.0',
} as const;

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('TomTom client: requests', () => {
  it('sends the API key, the bearer token, X-Version and the user agent to PDG', async () => {
    const { client, sent, tokens } = testClient([{ status: 200, body: { storages: [STORAGE] } }]);
    expect(await client.listStorages()).toEqual([STORAGE]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe('https://api.tomtom.com/maps/orbis/platform/private-gateway/storages');
    expect(sent[0]!.headers).toMatchObject({
      'tomtom-api-key': API_KEYS[0],
      authorization: `Bearer ${tokens[0]}`,
      'x-version': '1',
    });
    expect(sent[0]!.headers['user-agent']).toMatch(new RegExp(`^gem-flow/${packageJson.version} `));
  });

  it('leaves X-Version out when disabled and uses the alternative PDG path', async () => {
    const { client, sent } = testClient([{ status: 200, body: STORAGE }], {
      TOMTOM_SEND_X_VERSION: 'false',
      TOMTOM_PDG_BASE_PATH: '/maps/orbis/platform/pdg',
    });
    await client.getStorage('storage 001');
    expect(sent[0]!.url).toBe('https://api.tomtom.com/maps/orbis/platform/pdg/storages/storage%20001');
    expect(sent[0]!.headers['x-version']).toBeUndefined();
  });

  it.each([
    ['a JSON object', { credentials: 'hvs.CAESIwrapped' }],
    ['a bare string', 'hvs.CAESIwrapped\n'],
    ['a JSON string', '"hvs.CAESIwrapped"'],
  ])('reads the wrapped credentials token from %s', async (_shape, body) => {
    const { client, sent } = testClient([{ status: 200, body }]);
    const token = await client.getStorageCredentials('storage-001', 'READ');
    expect(token.reveal()).toBe('hvs.CAESIwrapped');
    expect(String(token)).toBe('[redacted]');
    expect(sent[0]!.url).toMatch(/\/storages\/storage-001\/credentials\?type=READ$/);
  });

  it('maps current and legacy jobs onto one GemJob shape, keeping unknown fields and statuses', async () => {
    const legacy = {
      jobRunId: 'job-abc123-def456',
      storageId: 'storage-001',
      inputFileName: 'your_data.parquet',
      outputFileName: 'your_data_matched.parquet',
      matchingType: 'road',
      status: 'finished',
      createdAt: '2026-01-26T10:30:00Z',
      statistics: { totalRecords: 50000, matchedRecords: 47500 },
    };
    const odd = { ...JOB, job_id: 5, status: 'VALIDATING', new_field: 'kept' };
    const { client, sent } = testClient([{ status: 200, body: { jobs: [JOB, legacy, odd] } }]);
    const [current, old, unknown] = await client.listJobs('ROAD_MATCHING');
    expect(sent[0]!.url).toBe('https://api.tomtom.com/maps/orbis/platform/gem/jobs?job_type=ROAD_MATCHING');
    expect(current).toMatchObject({
      jobId: '123456789',
      status: 'REQUESTED',
      resultFilename: null,
      statistics: null,
    });
    expect(old).toMatchObject({
      jobId: 'job-abc123-def456',
      jobType: 'ROAD_MATCHING',
      storageId: 'storage-001',
      inputFilename: 'your_data.parquet',
      resultFilename: 'your_data_matched.parquet',
      status: 'SUCCESS',
      statistics: { totalRecords: 50000, matchedRecords: 47500 },
    });
    expect(unknown!.status).toBe('VALIDATING');
    expect(unknown!.raw.new_field).toBe('kept');
  });

  it('types complete road-matching statistics and finds the failure message', async () => {
    const statistics = {
      confidence_threshold: 60,
      execution_time_sec: 9751,
      kms_processed: 80208.39,
      num_roads_processed: 397613,
      roads_fully_matched_ratio: 0.675,
      roads_matched_ratio: 0.8468,
      roads_partially_matched_ratio: 0.1718,
      roads_unmatched_ratio: 0.1531,
    };
    const { client } = testClient([
      { status: 200, body: { ...JOB, status: 'SUCCESS', statistics } },
      { status: 200, body: { ...JOB, status: 'FAILED', error_message: 'geometry column missing' } },
    ]);
    expect((await client.getJob(123456789)).statistics).toEqual(statistics);
    expect((await client.getJob(123456789)).failureMessage).toBe('geometry column missing');
  });

  it('rejects a body that is not a job', async () => {
    const { client } = testClient([{ status: 200, body: { hello: 'world' } }]);
    expect(await failure(client.getJob('1'))).toBeInstanceOf(TomTomResponseError);
  });
});

describe('TomTom client: create job', () => {
  it('posts the snake_case body once', async () => {
    const { client, sent } = testClient([{ status: 201, body: JOB }]);
    const job = await client.createJob(ROAD_JOB_REQUEST);
    expect(job.jobId).toBe('123456789');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: 'https://api.tomtom.com/maps/orbis/platform/gem/jobs',
      body: {
        storage_id: 'storage-001',
        filename: 'roads.parquet',
        job_type: 'ROAD_MATCHING',
        overture_release: '2026-01-21.0',
      },
    });
    expect(sent[0]!.headers['content-type']).toBe('application/json');
  });

  it.each([
    [{ ...ROAD_JOB_REQUEST, overtureRelease: undefined }, 'overture_release'],
    [{ ...ROAD_JOB_REQUEST, overtureRelease: '2026-01-21' }, 'overture_release'],
    [{ storageId: 's', filename: 'f.parquet', jobType: 'LANE_LEVEL_MATCHING' }, 'orbis_version'],
    [{ ...ROAD_JOB_REQUEST, storageId: '' }, 'storage_id'],
    [{ ...ROAD_JOB_REQUEST, jobType: 'POINT_MATCHING' }, 'job_type'],
  ])('validates the request before sending (%o → %s)', async (request, field) => {
    const { client, sent } = testClient([{ status: 201, body: JOB }]);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid input, as a webhook could send
    const error = await failure(client.createJob(request as any));
    expect(error).toBeInstanceOf(JobRequestValidationError);
    expect((error as JobRequestValidationError).field).toBe(field);
    expect(error.message).toContain(field);
    expect(sent).toHaveLength(0);
  });

  it('is not repeated after a 500 or a dropped connection, while a GET is', async () => {
    const post = testClient([{ status: 500, body: { error: { code: 'InternalError', message: 'oops' } } }]);
    expect(await failure(post.client.createJob(ROAD_JOB_REQUEST))).toBeInstanceOf(TomTomServiceError);
    expect(post.sent).toHaveLength(1);

    const dropped = testClient([networkError('ECONNRESET')]);
    expect(await failure(dropped.client.createJob(ROAD_JOB_REQUEST))).toBeInstanceOf(TomTomNetworkError);
    expect(dropped.sent).toHaveLength(1);

    const get = testClient([{ status: 500 }, networkError('ETIMEDOUT'), { status: 200, body: JOB }]);
    expect((await get.client.getJob(123456789)).jobId).toBe('123456789');
    expect(get.sent).toHaveLength(3);
  });

  it('is repeated after a 429 with Retry-After, since the request was refused', async () => {
    const { client, sent } = testClient([
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 201, body: JOB },
    ]);
    await client.createJob(ROAD_JOB_REQUEST);
    expect(sent).toHaveLength(2);
  });

  it('reports a 429 that outlasted the retries', async () => {
    const { client } = testClient([{ status: 429, headers: { 'retry-after': '0' } }]);
    expect(await failure(client.listStorages())).toBeInstanceOf(TomTomThrottledError);
  });
});

describe('TomTom client: authentication failures', () => {
  it('after a 401, retries once with a new developer token and a re-read key', async () => {
    const { client, sent, tokens, secretClient } = testClient([
      { status: 401 },
      { status: 200, body: { storages: [] } },
    ]);
    expect(await client.listStorages()).toEqual([]);
    expect(sent).toHaveLength(2);
    expect(tokens).toHaveLength(2);
    expect(secretClient.getSecret).toHaveBeenCalledTimes(2);
    expect(sent[1]!.headers['tomtom-api-key']).toBe(API_KEYS[1]);
    expect(sent[1]!.headers.authorization).toBe(`Bearer ${tokens[1]}`);
  });

  it('keeps using the refreshed token afterwards', async () => {
    const { client, sent, tokens } = testClient([{ status: 401 }, { status: 200, body: { storages: [] } }]);
    await client.listStorages();
    await client.listStorages();
    expect(sent[2]!.headers.authorization).toBe(`Bearer ${tokens[1]}`);
    expect(tokens).toHaveLength(2);
  });

  const documentedKeyError = {
    error: {
      code: 'Unauthorized',
      message:
        'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
    },
  };

  it.each([
    [
      'invalid or missing API key',
      401,
      documentedKeyError,
      {},
      InvalidApiKeyError,
      'api-key',
      /Verify the key \(Key Vault secret "tomtom-api-key"/,
    ],
    [
      'expired token',
      401,
      { error: { code: 'Unauthorized', message: 'Token is expired.' } },
      {},
      ExpiredAccessTokenError,
      'access-token',
      /Sign in again \(az login/,
    ],
    [
      'expired token (WWW-Authenticate)',
      401,
      '',
      { 'www-authenticate': 'Bearer error="invalid_token", error_description="The token expired at 10:00"' },
      ExpiredAccessTokenError,
      'access-token',
      /az login/,
    ],
    [
      'invalid token',
      401,
      { detailedError: { code: 'Unauthorized', message: 'Invalid authorization token' } },
      {},
      InvalidAccessTokenError,
      'access-token',
      /right scope and account/,
    ],
    [
      'unexplained 401',
      401,
      'Unauthorized',
      {},
      TomTomUnauthorizedError,
      'unknown',
      /Check the API key .* and that the identity/,
    ],
  ] as const)('401 %s → %s', async (_row, status, body, headers, type, refused, remedy) => {
    const { client, sent } = testClient([{ status, body, headers }]);
    const error = await failure(client.listStorages());
    expect(error.constructor).toBe(type);
    expect((error as TomTomUnauthorizedError).refusedCredential).toBe(refused);
    expect((error as TomTomUnauthorizedError).status).toBe(401);
    expect(error.message).toMatch(remedy);
    expect(sent).toHaveLength(2);
  });

  describe('with a managed identity (TOKEN_CREDENTIAL=managed-identity)', () => {
    const managedIdentity = {
      TOKEN_CREDENTIAL: 'managed-identity',
      AZURE_CLIENT_ID: '0a1b2c3d-0000-4000-8000-00000000a11d',
    };

    it('does not resend a refused token when the API key has not changed', async () => {
      const { client, sent, tokens } = testClient(
        [{ status: 401 }, { status: 200, body: { storages: [] } }],
        {
          ...managedIdentity,
          TOMTOM_API_KEY: API_KEYS[0],
        },
      );
      expect(await failure(client.listStorages())).toBeInstanceOf(TomTomUnauthorizedError);
      expect(sent).toHaveLength(1);
      expect(tokens).toHaveLength(1);
    });

    it('resends once, with the same token, when Key Vault now holds another key', async () => {
      const { client, sent, tokens } = testClient(
        [{ status: 401 }, { status: 200, body: { storages: [] } }],
        managedIdentity,
      );
      expect(await client.listStorages()).toEqual([]);
      expect(sent.map((request) => request.headers['tomtom-api-key'])).toEqual([API_KEYS[0], API_KEYS[1]]);
      expect(new Set(sent.map((request) => request.headers.authorization))).toEqual(
        new Set([`Bearer ${tokens[0]}`]),
      );
    });

    it.each([
      ['expired', { error: { code: 'Unauthorized', message: 'Token is expired.' } }, ExpiredAccessTokenError],
      [
        'invalid',
        { detailedError: { code: 'Unauthorized', message: 'Invalid authorization token' } },
        InvalidAccessTokenError,
      ],
    ] as const)(
      'a token refused as %s gets a remedy that says what clears it',
      async (_verdict, body, type) => {
        const { client } = testClient([{ status: 401, body }], {
          ...managedIdentity,
          TOMTOM_API_KEY: API_KEYS[0],
        });
        const error = await failure(client.listStorages());
        expect(error).toBeInstanceOf(type);
        expect(error.message).toMatch(/managed identity 0a1b2c3d-0000-4000-8000-00000000a11d/);
        expect(error.message).toMatch(/about 24 hours/);
        expect(error.message).toMatch(/restarting the app does not help/);
        expect(error.message).toMatch(/new user-assigned identity .* AZURE_CLIENT_ID/);
      },
    );
  });

  it.each([
    [
      'API key lacks the products',
      { error: { code: 'Forbidden', message: 'API key lacks required permissions' } },
      ApiKeyProductsMissingError,
      /Orbis Private Data Gateway API.*Orbis GEM API/,
    ],
    [
      'TomTom SDK style',
      { detailedError: { code: 'Forbidden', message: 'Developer Inactive' }, httpStatusCode: 403 },
      ApiKeyProductsMissingError,
      /my\.tomtom\.com/,
    ],
    [
      'user lacks the storage',
      { error: { code: 'Forbidden', message: 'User not authorized for resource' } },
      ResourceAccessDeniedError,
      /project and storage permissions/,
    ],
    [
      'unexplained 403',
      'Forbidden',
      TomTomForbiddenError,
      /Either the API key lacks .* or the identity has no access/,
    ],
  ] as const)('403 %s → %s, not retried', async (_row, body, type, remedy) => {
    const { client, sent } = testClient([{ status: 403, body, headers: { 'x-request-id': 'req-42' } }]);
    const error = await failure(client.getStorage('storage-001'));
    expect(error.constructor).toBe(type);
    expect(error.message).toMatch(remedy);
    expect((error as TomTomForbiddenError).requestId).toBe('req-42');
    expect(sent).toHaveLength(1);
  });

  it('maps 404 to a not-found error with the request id', async () => {
    const { client } = testClient([
      {
        status: 404,
        body: { error: { code: 'NotFound', message: 'Job not found' } },
        headers: { 'x-ms-request-id': 'ms-7' },
      },
    ]);
    const error = (await failure(client.getJob(1))) as TomTomNotFoundError;
    expect(error).toBeInstanceOf(TomTomNotFoundError);
    expect(error).toMatchObject({
      status: 404,
      serviceCode: 'NotFound',
      serviceMessage: 'Job not found',
      requestId: 'ms-7',
    });
  });

  it('never repeats a credential in an error, even when the service echoes it', async () => {
    const echo = (request: string) => ({
      error: { code: 'Unauthorized', message: `bad subscription key ${request}` },
    });
    const { client, tokens } = testClient([
      { status: 401, body: echo(API_KEYS[0]) },
      { status: 401, body: echo(API_KEYS[1]) },
    ]);
    const error = await failure(client.listStorages());
    const everything = `${error.message} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`;
    for (const secret of [...API_KEYS, ...tokens]) expect(everything).not.toContain(secret);
    expect(error.message).toContain('[redacted]');
  });
});

describe('Vault unwrap', () => {
  const unwrapped = {
    request_id: 'abc123',
    data: {
      credentials: { clientId: 'sp-client-id', clientSecret: 'sp-client-secret-value' },
      id: 'storage-001',
      tenant_id: 'tenant-1',
      url: 'https://pdgstorage001.blob.core.windows.net/default/',
    },
  };

  it('posts the wrapped token to Vault only, without TomTom credentials', async () => {
    const { client, sent } = testClient([{ status: 200, body: unwrapped }]);
    const credentials = await client.unwrapStorageCredentials('hvs.single-use');
    expect(credentials).toMatchObject({
      clientId: 'sp-client-id',
      clientSecret: 'sp-client-secret-value',
      storageId: 'storage-001',
      tenantId: 'tenant-1',
      containerUrl: 'https://pdgstorage001.blob.core.windows.net/default/',
    });
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: 'https://hcp-vault.tomtomgroup.com/v1/sys/wrapping/unwrap',
    });
    expect(sent[0]!.headers['x-vault-token']).toBe('hvs.single-use');
    expect(sent[0]!.headers['tomtom-api-key']).toBeUndefined();
    expect(sent[0]!.headers.authorization).toBeUndefined();
  });

  it('keeps the client secret out of JSON, string and inspect output', async () => {
    const { client } = testClient([{ status: 200, body: unwrapped }]);
    const credentials = await client.unwrapStorageCredentials('hvs.single-use');
    for (const rendered of [
      JSON.stringify(credentials),
      inspect(credentials),
      `${Object.values(credentials)}`,
    ]) {
      expect(rendered).not.toContain('sp-client-secret-value');
      expect(rendered).toContain('sp-client-id');
    }
  });

  it.each([
    [
      { status: 400, body: { errors: ['wrapping token is not valid or does not exist'] } },
      /not valid or does not exist.*unwrap them immediately, exactly once/s,
    ],
    [{ status: 500, body: 'vault sealed' }, /vault sealed/],
    [networkError('ECONNRESET'), /No response/],
  ])('fails without retrying (%#)', async (reply, message) => {
    const { client, sent } = testClient([reply, { status: 200, body: unwrapped }]);
    const error = await failure(client.unwrapStorageCredentials('hvs.used-token'));
    expect(error).toBeInstanceOf(reply instanceof Error ? TomTomNetworkError : VaultUnwrapError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('hvs.used-token');
    expect(sent).toHaveLength(1);
  });

  it('rejects a payload without usable credentials', async () => {
    const { client } = testClient([{ status: 200, body: { data: { id: 'storage-001' } } }]);
    const error = await failure(client.unwrapStorageCredentials('hvs.x'));
    expect(error).toBeInstanceOf(VaultUnwrapError);
    expect(error.message).toContain('clientId/clientSecret are missing');
  });
});
