/**
 * The two health answers. Liveness (anonymous) is a constant: it reads no setting and calls nothing, so it can
 * be polled freely and tells a stranger nothing. The report (function key) lists every setting in force
 * (secrets only as set or not set), every settings problem, the Node version and whether app storage, the API
 * key source, the Entra token and TomTom answer. Its dependency probes are reused for PROBE_CACHE_MS, so a
 * monitor polling every few seconds, or several people refreshing at once, costs one round of calls per window
 * and instance, not one per request.
 */
import type { z } from 'zod';
import type { DEPENDENCY_CHECKS, healthReportSchema, healthResponseSchema } from './api/schemas.js';
import { type ConfigurationProblem, inspectSettings, type Settings, settingsInForce } from './config.js';
import { errorMessage } from './errors.js';
import { getServices, type Services } from './services.js';
import { APP_VERSION } from './version.js';

export type HealthLiveness = z.output<typeof healthResponseSchema>;
export type HealthReport = z.output<typeof healthReportSchema>;
export type DependencyCheck = HealthReport['checks'][number];
type CheckName = (typeof DEPENDENCY_CHECKS)[number];

/**
 * How long the probes' results are reused. 30 s: long enough that frequent polling costs at most two calls a
 * minute to TomTom, Key Vault and the identity endpoint per instance; short enough that a fixed dependency (a
 * key put in Key Vault, an identity registered at TomTom) shows within half a minute of the next look.
 */
export const PROBE_CACHE_MS = 30_000;
const CHECK_TIMEOUT_MS = 10_000;

export function liveness(): HealthLiveness {
  return { status: 'alive' };
}

export interface HealthReportOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** The services to probe; default the process-wide ones (built from the settings). */
  services?: (settings: Settings) => Services;
  now?: () => number;
}

/** The keyed report and whether it is healthy (200) or not (503). */
export async function healthReport(options: HealthReportOptions = {}): Promise<HealthReport> {
  // Undefined means process.env, which only shared/config.ts reads.
  const env = options.env;
  const now = options.now ?? Date.now;
  const { settings, problems } = inspectSettings(env);
  const probed = settings
    ? await cachedChecks(
        () => runChecks(settings, (options.services ?? (() => getServices()))(settings)),
        now,
      )
    : { at: now(), checks: notRun(problems) };
  const status = problems.length > 0 ? 'misconfigured' : probed.checks.every((c) => c.ok) ? 'ok' : 'degraded';
  return {
    status,
    version: APP_VERSION,
    node: process.version,
    settingsProblems: problems.map((p) => ({ ...p })),
    settings: settingsInForce(env),
    checks: probed.checks,
    checkedAt: new Date(probed.at).toISOString(),
    cachedForSeconds: PROBE_CACHE_MS / 1000,
  };
}

let cache: { at: number; checks: Promise<DependencyCheck[]> } | undefined;

/** The last probes while they are fresh; callers arriving during a probe share it. Failures are reused too. */
async function cachedChecks(
  probe: () => Promise<DependencyCheck[]>,
  now: () => number,
): Promise<{ at: number; checks: DependencyCheck[] }> {
  if (!cache || now() - cache.at >= PROBE_CACHE_MS) cache = { at: now(), checks: probe() };
  const { at, checks } = cache;
  return { at, checks: await checks };
}

/** Forgets the cached probes (tests). */
export function resetHealthCache(): void {
  cache = undefined;
}

function notRun(problems: readonly ConfigurationProblem[]): DependencyCheck[] {
  const detail = `not run: ${problems.length} settings problem(s) above must be fixed first`;
  const names: CheckName[] = ['app-storage', 'api-key', 'gem-token', 'tomtom'];
  return names.map((name) => ({ name, ok: false, latencyMs: 0, detail }));
}

function runChecks(settings: Settings, services: Services): Promise<DependencyCheck[]> {
  return Promise.all([
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
}

async function check(name: CheckName, probe: () => Promise<string>): Promise<DependencyCheck> {
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
    const detail = errorMessage(error);
    return { name, ok: false, latencyMs: Math.round(performance.now() - started), detail };
  } finally {
    clearTimeout(timer);
  }
}
