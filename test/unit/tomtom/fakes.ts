/**
 * Fakes for the TomTom client's unit tests: an `HttpClient` that answers from a script of replies and records
 * what was sent, and fixed credentials. Only the transport is faked; the real core-rest-pipeline policies run.
 */
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
  RestError,
} from '@azure/core-rest-pipeline';
import { vi } from 'vitest';
import { createApiKeyProvider } from '../../../shared/auth/apiKeyProvider.js';
import { AppTokenCredential } from '../../../shared/auth/tokenCredential.js';
import { loadSettings, type Settings } from '../../../shared/config.js';
import { createTomTomClient } from '../../../shared/tomtom/client.js';

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** An HttpClient answering from a script of replies (the last one repeats), recording what was sent. */
export function scriptedHttpClient(...script: (FakeReply | Error)[]) {
  const sent: SentRequest[] = [];
  const httpClient: HttpClient = {
    sendRequest: vi.fn(async (request: PipelineRequest): Promise<PipelineResponse> => {
      sent.push({
        method: request.method,
        url: request.url,
        headers: request.headers.toJSON(),
        body: typeof request.body === 'string' ? JSON.parse(request.body) : undefined,
      });
      const reply = script[Math.min(sent.length - 1, script.length - 1)]!;
      if (reply instanceof Error) throw reply;
      return {
        request,
        status: reply.status,
        headers: createHttpHeaders({ 'content-type': 'application/json', ...reply.headers }),
        bodyAsText:
          reply.body === undefined
            ? ''
            : typeof reply.body === 'string'
              ? reply.body
              : JSON.stringify(reply.body),
      };
    }),
  };
  return { httpClient, sent };
}

export const networkError = (code: string) => new RestError(`connect ${code} 203.0.113.7:443`, { code });

export const API_KEYS = ['tt-key-first-0123456789', 'tt-key-second-0123456789'] as const;

export function testSettings(extra: Record<string, string> = {}): Settings {
  return loadSettings({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    KEY_VAULT_URL: 'https://kv-gemflow.vault.azure.net',
    TOKEN_CREDENTIAL: 'developer',
    ...extra,
  });
}

/**
 * A client over the real pipeline, with a Key Vault fake that rotates keys and a token source that counts.
 * The token source is a developer sign-in (`TOKEN_CREDENTIAL=developer`, the default here), which hands out
 * a new token whenever it is asked again, or a managed identity (`TOKEN_CREDENTIAL=managed-identity`),
 * which, like the platform's endpoint, hands out the same cached token every time.
 */
export function testClient(script: (FakeReply | Error)[], extraSettings: Record<string, string> = {}) {
  const settings = testSettings(extraSettings);
  let keyReads = 0;
  const secretClient = { getSecret: vi.fn(async () => ({ value: API_KEYS[Math.min(keyReads++, 1)] })) };
  const apiKeyProvider = createApiKeyProvider(settings, { secretClient });
  const tokens: string[] = [];
  const mint = async () => {
    const token = `eyJ.fake-access-token-${tokens.length + 1}.sig`;
    tokens.push(token);
    return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
  };
  const kind = settings.auth.tokenCredential;
  let cached: Promise<{ token: string; expiresOnTimestamp: number }> | undefined;
  const credential = new AppTokenCredential(kind, {
    getToken: () => {
      if (kind === 'developer') return mint();
      cached ??= mint();
      return cached;
    },
  });
  const { httpClient, sent } = scriptedHttpClient(...script);
  const client = createTomTomClient({
    settings,
    apiKeyProvider,
    credential,
    httpClient,
    pipelineOptions: { retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 2 } },
  });
  return { client, sent, tokens, secretClient, settings };
}
