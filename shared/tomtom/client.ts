/**
 * The TomTom client: PDG (storages and their credentials), GEM (jobs) and the Vault unwrap, as typed operations
 * over core-rest-pipeline pipelines (policies.ts: API key, Entra token, X-Version, idempotency-aware retries,
 * 401 recovery). Every response is checked against its documented shape (models.ts), and every failure becomes
 * a typed error (errors.ts, failures.ts) that says what to do and carries no credential.
 */
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type InternalPipelineOptions,
  isRestError,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { z } from 'zod';
import type { ApiKeyProvider } from '../auth/apiKeyProvider.js';
import type { Settings, TokenCredentialKind } from '../config.js';
import type { JobType } from '../jobTypes.js';
import { SecretValue } from '../secret.js';
import { APP_VERSION } from '../version.js';
import { TomTomApiError, TomTomNetworkError, TomTomResponseError, VaultUnwrapError } from './errors.js';
import {
  type CredentialHints,
  classifyFailure,
  describeResponse,
  requestIdOf,
  scrubCredentials,
} from './failures.js';
import {
  type CreateJobRequest,
  type CredentialType,
  type GemJob,
  gemJobSchema,
  listJobsResponseSchema,
  listStoragesResponseSchema,
  parseWrappedToken,
  type StorageDetails,
  type StorageSummary,
  storageDetailsSchema,
  toCreateJobBody,
  toUnwrappedStorageCredentials,
  type UnwrappedStorageCredentials,
} from './models.js';
import {
  apiKeyPolicy,
  type RefreshableCredential,
  refreshableBearerTokenPolicy,
  retryByIdempotencyPolicy,
  setRetryMode,
  unauthorizedRecoveryPolicy,
  xVersionPolicy,
} from './policies.js';

export interface CallOptions {
  readonly abortSignal?: AbortSignal;
  /**
   * For `createJob`: false sends it once, so a 429 comes back at once as `TomTomThrottledError` with its
   * Retry-After, for a caller that waits on its own (durable) clock. Default true: refusals are retried here.
   */
  readonly retryRefusals?: boolean;
}

/** PDG, GEM and the Vault unwrap, as the workflows use them. Activities receive this interface. */
export interface TomTomClient {
  listStorages(options?: CallOptions): Promise<StorageSummary[]>;
  getStorage(storageId: string, options?: CallOptions): Promise<StorageDetails>;
  /** A single-use Vault wrapping token; pass it to `unwrapStorageCredentials` once. */
  getStorageCredentials(storageId: string, type: CredentialType, options?: CallOptions): Promise<SecretValue>;
  unwrapStorageCredentials(
    wrappedToken: SecretValue | string,
    options?: CallOptions,
  ): Promise<UnwrappedStorageCredentials>;
  /** Never retried automatically except after a 429 (the request was refused, so no job exists). */
  createJob(request: CreateJobRequest, options?: CallOptions): Promise<GemJob>;
  listJobs(jobType: JobType, options?: CallOptions): Promise<GemJob[]>;
  getJob(jobId: string | number, options?: CallOptions): Promise<GemJob>;
}

/** A credential that says whether it can give a new token after a refusal: `AppTokenCredential`. */
export interface RenewableCredential extends RefreshableCredential {
  readonly kind: TokenCredentialKind;
  requestNewToken(): boolean;
}

export interface TomTomClientOptions {
  readonly settings: Settings;
  readonly apiKeyProvider: ApiKeyProvider;
  readonly credential: RenewableCredential;
  /** Extra core-rest-pipeline options (retry counts and delays, proxy, TLS, logging allow-list). */
  readonly pipelineOptions?: InternalPipelineOptions;
  /** Defaults to core-rest-pipeline's Node HTTP client; tests pass a fake. */
  readonly httpClient?: HttpClient;
}

/** Response headers worth seeing in logs; every other header is logged as REDACTED. */
const LOGGED_HEADERS = ['x-request-id', 'x-correlation-id', 'x-version', 'location'];
const LOGGED_QUERY_PARAMETERS = ['type', 'job_type'];

export const USER_AGENT_PREFIX = `gem-flow/${APP_VERSION}`;

function basePipeline(pipelineOptions: InternalPipelineOptions | undefined): Pipeline {
  const pipeline = createPipelineFromOptions({
    ...pipelineOptions,
    userAgentOptions: { userAgentPrefix: USER_AGENT_PREFIX, ...pipelineOptions?.userAgentOptions },
    loggingOptions: {
      ...pipelineOptions?.loggingOptions,
      additionalAllowedHeaderNames: [
        ...LOGGED_HEADERS,
        ...(pipelineOptions?.loggingOptions?.additionalAllowedHeaderNames ?? []),
      ],
      additionalAllowedQueryParameters: [
        ...LOGGED_QUERY_PARAMETERS,
        ...(pipelineOptions?.loggingOptions?.additionalAllowedQueryParameters ?? []),
      ],
    },
  });
  // Replaced by a retry policy that knows which requests are safe to repeat. The name is core-rest-pipeline's
  // `defaultRetryPolicyName` (policies/defaultRetryPolicy.ts), which the package index does not export.
  pipeline.removePolicy({ name: 'defaultRetryPolicy' });
  return pipeline;
}

/** The pipeline for PDG and GEM: API key, bearer token, X-Version, idempotency-aware retries, 401 recovery. */
export function createTomTomPipeline(options: Omit<TomTomClientOptions, 'httpClient'>): Pipeline {
  const { settings, apiKeyProvider, credential, pipelineOptions } = options;
  const pipeline = basePipeline(pipelineOptions);
  pipeline.addPolicy(retryByIdempotencyPolicy(pipelineOptions?.retryOptions), { phase: 'Retry' });
  pipeline.addPolicy(
    unauthorizedRecoveryPolicy({ requestNewToken: () => credential.requestNewToken(), apiKeyProvider }),
    { phase: 'Retry' },
  );
  if (settings.tomtom.sendXVersion) pipeline.addPolicy(xVersionPolicy());
  pipeline.addPolicy(apiKeyPolicy(apiKeyProvider), { phase: 'Sign' });
  pipeline.addPolicy(refreshableBearerTokenPolicy({ credential, scopes: settings.auth.gemTokenScope }), {
    phase: 'Sign',
  });
  return pipeline;
}

/** The pipeline for Vault: no TomTom credentials, and no retries (the wrapped token works once). */
export function createVaultPipeline(pipelineOptions?: InternalPipelineOptions): Pipeline {
  return basePipeline(pipelineOptions);
}

function credentialHints(settings: Settings): CredentialHints {
  const key = settings.auth.apiKey;
  const apiKeySource =
    key.source === 'environment'
      ? 'setting TOMTOM_API_KEY'
      : `Key Vault secret "${key.secretName}" in ${key.vaultUrl}, re-read after a refusal`;
  const { tokenCredential: kind, managedIdentityClientId: clientId, gemTokenScope: scope } = settings.auth;
  const source =
    kind === 'managed-identity'
      ? `managed identity ${clientId ?? '(system-assigned)'} for scope ${scope}`
      : `az / azd sign-in for scope ${scope}; "az account get-access-token --scope ${scope}" shows it`;
  return { apiKeySource, token: { kind, source } };
}

function parseJsonBody(operation: string, request: PipelineRequest, response: PipelineResponse): unknown {
  try {
    return JSON.parse(response.bodyAsText ?? '');
  } catch (cause) {
    throw new TomTomResponseError(
      'The response is not JSON',
      { ...describeResponse(operation, request, response), serviceMessage: undefined, cause },
      'Check TOMTOM_API_BASE_URL and the base paths point at the TomTom API.',
    );
  }
}

function validated<T>(
  operation: string,
  schema: z.ZodType<T, unknown>,
  body: unknown,
  request: PipelineRequest,
  response: PipelineResponse,
): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new TomTomResponseError(
    `The response does not have the documented shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`,
    { operation, status: response.status, requestId: requestIdOf(response), cause: result.error },
    `Check TOMTOM_PDG_BASE_PATH / TOMTOM_GEM_BASE_PATH (e.g. ${request.url.split('?')[0]}).`,
  );
}

/** What every operation of the client shares: the HTTP client, the two pipelines, the base URLs, the hints. */
interface ClientContext {
  readonly httpClient: HttpClient;
  readonly tomtomPipeline: Pipeline;
  readonly vaultPipeline: Pipeline;
  readonly hints: CredentialHints;
  readonly pdgUrl: string;
  readonly gemUrl: string;
  readonly vaultUrl: string;
}

export function createTomTomClient(options: TomTomClientOptions): TomTomClient {
  const { settings } = options;
  const context: ClientContext = {
    httpClient: options.httpClient ?? createDefaultHttpClient(),
    tomtomPipeline: createTomTomPipeline(options),
    vaultPipeline: createVaultPipeline(options.pipelineOptions),
    hints: credentialHints(settings),
    pdgUrl: settings.tomtom.pdgBaseUrl,
    gemUrl: settings.tomtom.gemBaseUrl,
    vaultUrl: settings.tomtom.vaultUrl,
  };
  const { pdgUrl: pdg, gemUrl: gem } = context;
  const storagePath = (storageId: string) => `${pdg}/storages/${encodeURIComponent(storageId)}`;

  return {
    listStorages: (callOptions) =>
      getJson(context, 'PDG list storages', `${pdg}/storages`, listStoragesResponseSchema, callOptions),

    getStorage: (storageId, callOptions) =>
      getJson(
        context,
        `PDG get storage ${storageId}`,
        storagePath(storageId),
        storageDetailsSchema,
        callOptions,
      ),

    getStorageCredentials: (storageId, type, callOptions) =>
      getStorageCredentials(context, storagePath(storageId), storageId, type, callOptions),

    unwrapStorageCredentials: (wrappedToken, callOptions) =>
      unwrapStorageCredentials(context, wrappedToken, callOptions),

    createJob: (jobRequest, callOptions) => createJob(context, jobRequest, callOptions),

    listJobs: (jobType, callOptions) =>
      getJson(
        context,
        `GEM list ${jobType} jobs`,
        `${gem}/jobs?job_type=${encodeURIComponent(jobType)}`,
        listJobsResponseSchema,
        callOptions,
      ),

    getJob: (jobId, callOptions) =>
      getJson(
        context,
        `GEM get job ${jobId}`,
        `${gem}/jobs/${encodeURIComponent(String(jobId))}`,
        gemJobSchema,
        callOptions,
      ),
  };
}

/**
 * Sends a request through a pipeline: no response becomes a `TomTomNetworkError` (with credentials scrubbed from
 * the message), and a 4xx/5xx response the error `toError` makes of it (by default the TomTom error table).
 */
async function send(
  context: ClientContext,
  operation: string,
  pipeline: Pipeline,
  request: PipelineRequest,
  toError: (response: PipelineResponse) => TomTomApiError = (response) =>
    classifyFailure(operation, request, response, context.hints),
): Promise<PipelineResponse> {
  let response: PipelineResponse;
  try {
    response = await pipeline.sendRequest(context.httpClient, request);
  } catch (error) {
    if (error instanceof TomTomApiError || (error as Error)?.name === 'AbortError') throw error;
    const message = error instanceof Error ? scrubCredentials(error.message, request) : 'unknown failure';
    throw new TomTomNetworkError(
      `No response (${isRestError(error) && error.code ? `${error.code}: ` : ''}${message})`,
      { operation, cause: error },
      'Check network access to the TomTom endpoints; safe requests were already retried.',
    );
  }
  if (response.status >= 400) throw toError(response);
  return response;
}

function jsonRequest(
  method: 'GET' | 'POST',
  url: string,
  options: CallOptions | undefined,
  body?: unknown,
): PipelineRequest {
  return createPipelineRequest({
    url,
    method,
    abortSignal: options?.abortSignal,
    headers: createHttpHeaders({
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A TomTom (PDG or GEM) request whose response body is JSON of the documented shape. */
async function sendForJson<T>(
  context: ClientContext,
  operation: string,
  pipelineRequest: PipelineRequest,
  schema: z.ZodType<T, unknown>,
): Promise<T> {
  const response = await send(context, operation, context.tomtomPipeline, pipelineRequest);
  return validated(
    operation,
    schema,
    parseJsonBody(operation, pipelineRequest, response),
    pipelineRequest,
    response,
  );
}

async function getJson<T>(
  context: ClientContext,
  operation: string,
  url: string,
  schema: z.ZodType<T, unknown>,
  options?: CallOptions,
): Promise<T> {
  return sendForJson(context, operation, jsonRequest('GET', url, options), schema);
}

async function getStorageCredentials(
  context: ClientContext,
  storagePath: string,
  storageId: string,
  type: CredentialType,
  options: CallOptions | undefined,
): Promise<SecretValue> {
  const operation = `PDG get ${type} credentials for storage ${storageId}`;
  const pipelineRequest = jsonRequest('GET', `${storagePath}/credentials?type=${type}`, options);
  const response = await send(context, operation, context.tomtomPipeline, pipelineRequest);
  const token = parseWrappedToken(response.bodyAsText ?? '');
  if (!token) {
    throw new TomTomResponseError('The response holds no wrapped token', {
      operation,
      status: response.status,
      requestId: requestIdOf(response),
    });
  }
  return new SecretValue(token);
}

/** The Vault unwrap: sent once (the wrapped token works once), without TomTom credentials. */
async function unwrapStorageCredentials(
  context: ClientContext,
  wrappedToken: SecretValue | string,
  options: CallOptions | undefined,
): Promise<UnwrappedStorageCredentials> {
  const operation = 'Vault unwrap storage credentials';
  const token = typeof wrappedToken === 'string' ? wrappedToken : wrappedToken.reveal();
  const pipelineRequest = jsonRequest('POST', `${context.vaultUrl}/v1/sys/wrapping/unwrap`, options);
  pipelineRequest.headers.set('X-Vault-Token', token);
  setRetryMode(pipelineRequest, 'never');
  const response = await send(context, operation, context.vaultPipeline, pipelineRequest, (failed) => {
    const details = describeResponse(operation, pipelineRequest, failed);
    return new VaultUnwrapError(
      failed.status === 400 || failed.status === 403
        ? 'Vault refused the wrapped token (already used, expired or invalid)'
        : 'Vault could not unwrap the credentials',
      details,
    );
  });
  let body: unknown;
  try {
    body = JSON.parse(response.bodyAsText ?? '');
  } catch (cause) {
    throw new VaultUnwrapError('Vault answered with something other than JSON', {
      operation,
      status: response.status,
      requestId: requestIdOf(response),
      cause,
    });
  }
  const credentials = toUnwrappedStorageCredentials(body);
  if (typeof credentials === 'string') {
    throw new VaultUnwrapError(`The unwrapped payload is unusable: ${credentials}`, {
      operation,
      status: response.status,
      requestId: requestIdOf(response),
    });
  }
  return credentials;
}

async function createJob(
  context: ClientContext,
  jobRequest: CreateJobRequest,
  options: CallOptions | undefined,
): Promise<GemJob> {
  const body = toCreateJobBody(jobRequest);
  const operation = `GEM create ${jobRequest.jobType} job for ${jobRequest.storageId}/${jobRequest.filename}`;
  const pipelineRequest = setRetryMode(
    jsonRequest('POST', `${context.gemUrl}/jobs`, options, body),
    options?.retryRefusals === false ? 'never' : 'refusals-only',
  );
  return sendForJson(context, operation, pipelineRequest, gemJobSchema);
}
