/**
 * `GET /api/health` (anonymous): which settings are in force and whether each dependency answers — app
 * storage, the API key source, the Entra token, TomTom itself. It shows where things point, never a secret:
 * no key, no token, no connection string.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getSettings, type Settings } from '../../shared/config.js';
import { getServices } from '../../shared/services.js';
import { APP_VERSION } from '../../shared/version.js';

const CHECK_TIMEOUT_MS = 10_000;

export interface DependencyCheck {
  name: 'app-storage' | 'api-key' | 'gem-token' | 'tomtom';
  ok: boolean;
  latencyMs: number;
  detail: string;
}

export async function healthHandler(_request: HttpRequest): Promise<HttpResponseInit> {
  const settings = getSettings();
  const services = getServices();
  const checks = await Promise.all([
    check('app-storage', async () => {
      const exists = await services.outbox.exists();
      return exists
        ? `container "${services.outbox.containerName}" reachable`
        : 'outbox container is missing';
    }),
    check('api-key', async () => {
      await services.apiKeys.getApiKey();
      return settings.auth.apiKey.source === 'key-vault'
        ? `read secret "${settings.auth.apiKey.secretName}" from ${settings.auth.apiKey.vaultUrl}`
        : 'from TOMTOM_API_KEY (local development)';
    }),
    check('gem-token', async () => {
      const token = await services.credential.getToken(settings.auth.gemTokenScope);
      if (!token) throw new Error('the credential returned no token');
      return `token for ${settings.auth.gemTokenScope} via ${settings.auth.tokenCredential}`;
    }),
    check('tomtom', async () => {
      const storages = await services.tomtom.listStorages();
      return `${storages.length} storage(s) visible at ${settings.tomtom.pdgBaseUrl}`;
    }),
  ]);
  const ok = checks.every((c) => c.ok);
  return {
    status: ok ? 200 : 503,
    jsonBody: {
      status: ok ? 'ok' : 'degraded',
      version: APP_VERSION,
      checks,
      settings: publicSettings(settings),
    },
  };
}

async function check(name: DependencyCheck['name'], probe: () => Promise<string>): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)),
        CHECK_TIMEOUT_MS,
      );
    });
    const detail = await Promise.race([probe(), timeout]);
    return { name, ok: true, latencyMs: Math.round(performance.now() - started), detail };
  } catch (error) {
    // Messages of gem-flow's typed errors carry no secrets by construction; they say what to fix.
    const detail = error instanceof Error ? error.message : String(error);
    return { name, ok: false, latencyMs: Math.round(performance.now() - started), detail };
  } finally {
    clearTimeout(timer);
  }
}

function publicSettings(settings: Settings) {
  return {
    tomtom: settings.tomtom,
    apiKeySource:
      settings.auth.apiKey.source === 'key-vault'
        ? {
            source: 'key-vault',
            vaultUrl: settings.auth.apiKey.vaultUrl,
            secretName: settings.auth.apiKey.secretName,
          }
        : { source: 'environment' },
    gemTokenScope: settings.auth.gemTokenScope,
    tokenCredential: settings.auth.tokenCredential,
    managedIdentityClientId: settings.auth.managedIdentityClientId ?? null,
    storage: {
      kind: settings.storage.kind,
      ...(settings.storage.kind === 'identity' ? { blobServiceUri: settings.storage.blobServiceUri } : {}),
      inboxContainer: settings.storage.inboxContainer,
      outboxContainer: settings.storage.outboxContainer,
    },
    taskHubName: settings.durable.taskHubName,
    workflow: settings.workflow,
    notify: {
      signingSecretSource: settings.notify.signingSecret.source,
      maxAttempts: settings.notify.maxAttempts,
    },
  };
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: healthHandler });
