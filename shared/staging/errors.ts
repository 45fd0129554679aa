/**
 * Typed staging failures. Each says which side failed (the app's storage or TomTom's PDG storage), why,
 * and what a person should do; retriable ones are safe for the activity retry policy to repeat.
 * Messages are built from URLs (query stripped) and service error codes only, never from credentials.
 */
import { GemFlowError, safeUrl } from '../errors.js';

export type StagingErrorCode =
  | 'PDG_TENANT_MISSING'
  | 'PDG_AUTH_FAILED'
  | 'PDG_TOKEN_REJECTED'
  | 'PDG_FORBIDDEN'
  | 'PDG_CONTAINER_NOT_FOUND'
  | 'PDG_NAME_TAKEN'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_CHANGED'
  | 'APP_STORAGE_FORBIDDEN'
  | 'TRANSIENT'
  | 'STAGING_FAILED';

export class StagingError extends GemFlowError {
  readonly code: StagingErrorCode;
  /** True when repeating the same call may succeed (throttling, 5xx, network). */
  readonly retriable: boolean;
  readonly statusCode: number | undefined;
  constructor(
    code: StagingErrorCode,
    message: string,
    options: { cause?: unknown; remedy?: string; retriable?: boolean; statusCode?: number } = {},
  ) {
    super(message, { cause: options.cause, remedy: options.remedy });
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.statusCode = options.statusCode;
  }
}

/** Which storage an operation touched; decides whose permissions a 403 is about. */
export type StorageSide = 'pdg' | 'app';

interface ServiceErrorShape {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  details?: { errorCode?: string; authenticationErrorDetail?: string };
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/**
 * Maps a storage SDK or identity error to a StagingError. `secrets` are scrubbed from any text taken
 * from the cause (defence in depth: the SDKs do not echo client secrets, but messages are logged).
 */
export function toStagingError(
  err: unknown,
  context: { side: StorageSide; action: string; url: string; secrets?: readonly string[] },
): StagingError {
  if (err instanceof StagingError) return err;
  const e = (err ?? {}) as ServiceErrorShape;
  const secrets = context.secrets ?? [];
  const failure: Failure = {
    err,
    e,
    side: context.side,
    status: typeof e.statusCode === 'number' ? e.statusCode : undefined,
    errorCode: e.details?.errorCode ?? e.code,
    what: `${context.action} ${safeUrl(context.url)}`,
    detail: redact(firstLine(e.message ?? String(err)), secrets),
    secrets,
  };
  return (
    identityFailure(failure) ??
    notFound(failure) ??
    changedWhileCopied(failure) ??
    forbidden(failure) ??
    transientFailure(failure) ??
    new StagingError(
      'STAGING_FAILED',
      `${failure.what} failed (${failure.status ?? 'error'} ${failure.errorCode ?? ''}): ${failure.detail}.`.replace(
        ' )',
        ')',
      ),
      { cause: err, statusCode: failure.status },
    )
  );
}

/** A failure as the classifiers below read it; each returns its StagingError, or undefined when it is not theirs. */
interface Failure {
  err: unknown;
  e: ServiceErrorShape;
  side: StorageSide;
  status: number | undefined;
  errorCode: string | undefined;
  /** The action and the URL (query stripped), e.g. "uploading https://…/default/roads.parquet". */
  what: string;
  /** The first line of the cause's message, secrets redacted. */
  detail: string;
  secrets: readonly string[];
}

const IDENTITY_ERROR_NAMES = new Set([
  'AuthenticationError',
  'CredentialUnavailableError',
  'AuthenticationRequiredError',
]);

function identityFailure({ err, e, what, detail }: Failure): StagingError | undefined {
  if (!IDENTITY_ERROR_NAMES.has(e.name ?? '')) return undefined;
  return new StagingError(
    'PDG_AUTH_FAILED',
    `Cannot get a token for the PDG service principal (${what}): ${detail}.`,
    {
      cause: err,
      remedy:
        'The client secret from the Vault unwrap may be expired or wrong; request fresh PDG credentials ' +
        '(GET …/storages/{id}/credentials) and retry. Check the authority host if this is not Azure public cloud.',
    },
  );
}

function notFound({ err, side, status, errorCode, what }: Failure): StagingError | undefined {
  if (status !== 404) return undefined;
  if (errorCode === 'ContainerNotFound' && side === 'pdg') {
    return new StagingError('PDG_CONTAINER_NOT_FOUND', `The PDG container does not exist (${what}).`, {
      cause: err,
      statusCode: status,
      remedy:
        'The unwrapped data.url should end in /default/; check the storage id, or ask TomTom to provision it.',
    });
  }
  return new StagingError('SOURCE_NOT_FOUND', `Not found: ${what} (${errorCode ?? 'HTTP 404'}).`, {
    cause: err,
    statusCode: status,
    remedy: 'The blob was deleted or renamed; upload it again to start a new run.',
  });
}

function changedWhileCopied({ err, status, errorCode, what }: Failure): StagingError | undefined {
  if (status !== 412 && errorCode !== 'ConditionNotMet') return undefined;
  return new StagingError('SOURCE_CHANGED', `The blob changed while it was being copied (${what}).`, {
    cause: err,
    statusCode: status,
    remedy: 'The new version triggers its own run; this one stops.',
  });
}

/** A 403 is about the permissions of the side it came from: TomTom's service principal, or the app's identity. */
function forbidden(failure: Failure): StagingError | undefined {
  const { err, e, side, status, errorCode, what, secrets } = failure;
  if (status !== 403) return undefined;
  if (side === 'app') {
    return new StagingError(
      'APP_STORAGE_FORBIDDEN',
      `The app's storage refused ${what} (${errorCode ?? 'HTTP 403'}).`,
      {
        cause: err,
        statusCode: status,
        remedy:
          "Grant the Function app's managed identity Storage Blob Data Contributor on the inbox/outbox containers.",
      },
    );
  }
  if (errorCode === 'AuthenticationFailed') {
    const why = e.details?.authenticationErrorDetail
      ? `: ${redact(e.details.authenticationErrorDetail, secrets)}`
      : '';
    return new StagingError(
      'PDG_TOKEN_REJECTED',
      `The PDG storage rejected the service principal's token (${what})${why}.`,
      {
        cause: err,
        statusCode: status,
        remedy:
          "The tenant id from the Vault unwrap must be the storage account's tenant; request fresh PDG credentials.",
      },
    );
  }
  return new StagingError('PDG_FORBIDDEN', `The PDG storage refused ${what} (${errorCode ?? 'HTTP 403'}).`, {
    cause: err,
    statusCode: status,
    remedy:
      'The service principal from the credentials lacks Storage Blob Data Contributor (upload) or Reader ' +
      '(download) on the PDG storage: request READ_WRITE credentials for uploads, or ask TomTom support to grant the role.',
  });
}

/**
 * Throttling, server errors and connection failures (a RestError without a status) may pass on retry;
 * anything else (a 400, a bug) will not.
 */
function transientFailure({ err, e, status, what, detail }: Failure): StagingError | undefined {
  const transient =
    status === 408 ||
    status === 429 ||
    (status !== undefined && status >= 500) ||
    (status === undefined && (e.name === 'RestError' || NETWORK_CODES.has(e.code ?? '')));
  if (!transient) return undefined;
  return new StagingError(
    'TRANSIENT',
    `Temporary failure: ${what} (${status ?? e.code ?? 'network'}): ${detail}.`,
    {
      cause: err,
      statusCode: status,
      retriable: true,
    },
  );
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
