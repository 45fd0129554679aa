// Admin API under /_admin (loopback peers only, no TomTom auth): request counters, jobs, fault
// injection, job durations and per-user job limits, API key rotation and reset. Bodies are validated with
// zod; nothing secret is returned.
import { z } from 'zod';
import type { BearerVerifier, KeyRegistry } from './auth.js';
import { type FaultStore, faultRuleSchema } from './faults.js';
import type { JobStore } from './jobs.js';
import { jobSettingsPatchSchema } from './limits.js';
import { redactSecret } from './redact.js';
import type { RequestLog } from './requestLog.js';
import { json, type SimResponse, tomtomError } from './responses.js';

export const ADMIN_PREFIX = '/_admin';

export interface AdminDeps {
  log: RequestLog;
  jobs: JobStore;
  faults: FaultStore;
  keys: KeyRegistry;
  verifier: BearerVerifier;
  /** Wall-clock now (bearer token lifetimes are wall-clock). */
  realNow: () => number;
}

const productSchema = z.enum(['pdg', 'gem']);
const keySchema = z.strictObject({ key: z.string().min(1), products: z.array(productSchema) });
const failJobSchema = z.strictObject({
  action: z.literal('fail-job'),
  jobId: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  message: z.string().min(1).optional(),
});
const expireTokensSchema = z.strictObject({ action: z.literal('expire-tokens') });

const LIMITS_BODY =
  'Expected a JSON object with any of queuedMs, segmentsPerHour, minRunningMs (numbers), ' +
  'maxConcurrentJobsPerUser, maxRunningJobsPerUser (integers ≥ 1, or null for no limit) and ' +
  'retryAfterSeconds (integer seconds, or null to compute it).';

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

const adminError = (status: number, message: string, issues?: unknown) =>
  json(status, {
    error: { code: status === 404 ? 'NotFound' : 'BadRequest', message, ...(issues ? { issues } : {}) },
  });

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: raw.trim() ? JSON.parse(raw) : {} };
  } catch {
    return { ok: false };
  }
}

export async function handleAdmin(
  deps: AdminDeps,
  method: string,
  url: URL,
  rawBody: string,
  peer: string | undefined,
): Promise<SimResponse> {
  if (!isLoopback(peer)) return tomtomError(403, 'Forbidden', 'The admin API only answers loopback clients.');
  const path = url.pathname.slice(ADMIN_PREFIX.length).replace(/\/+$/, '') || '/';
  const route = `${method} ${path.startsWith('/keys/') ? '/keys/{key}' : path}`;

  switch (route) {
    case 'GET /requests': {
      const limit = Number(url.searchParams.get('limit') ?? 200);
      return json(200, deps.log.summary(Number.isFinite(limit) ? limit : 200));
    }
    case 'GET /jobs':
      return json(200, { jobs: await deps.jobs.list(undefined) });
    case 'GET /jobs/timeline':
      return json(200, { jobs: await deps.jobs.timeline() });
    case 'GET /limits':
      return json(200, await deps.jobs.limits());
    case 'POST /limits': {
      const body = parseJson(rawBody);
      const parsed = body.ok ? jobSettingsPatchSchema.safeParse(body.value) : undefined;
      if (!parsed?.success) {
        return adminError(400, LIMITS_BODY, parsed?.error.issues);
      }
      return json(200, { limits: await deps.jobs.setLimits(parsed.data) });
    }
    case 'DELETE /limits':
      return json(200, { limits: await deps.jobs.resetLimits() });
    case 'GET /faults':
      return json(200, { faults: deps.faults.list() });
    case 'DELETE /faults':
      return json(200, { cleared: deps.faults.clear() });
    case 'POST /faults': {
      const body = parseJson(rawBody);
      if (!body.ok) return adminError(400, 'The body is not valid JSON.');
      return addFaults(deps, body.value);
    }
    case 'POST /keys': {
      const body = parseJson(rawBody);
      const parsed = body.ok ? keySchema.safeParse(body.value) : undefined;
      if (!parsed?.success)
        return adminError(
          400,
          'Expected {"key": string, "products": ("pdg"|"gem")[]}.',
          parsed?.error.issues,
        );
      deps.keys.add(parsed.data.key, parsed.data.products);
      return json(201, { key: redactSecret(parsed.data.key), products: parsed.data.products });
    }
    case 'DELETE /keys/{key}': {
      const key = decodeURIComponent(path.slice('/keys/'.length));
      return deps.keys.revoke(key) ? { status: 204 } : adminError(404, `No such key ${redactSecret(key)}.`);
    }
    case 'POST /reset':
      deps.jobs.reset();
      deps.log.reset();
      deps.faults.clear();
      deps.verifier.reset();
      return json(200, { reset: true });
    default:
      return adminError(404, `No admin route ${method} ${url.pathname}.`);
  }
}

async function addFaults(deps: AdminDeps, value: unknown): Promise<SimResponse> {
  if (value && typeof value === 'object' && 'action' in value) {
    const failJob = failJobSchema.safeParse(value);
    if (failJob.success) {
      const { jobId, message } = failJob.data;
      const done = await deps.jobs.forceFail(jobId, message);
      if (!done) return adminError(404, `Job ${jobId} does not exist or has already finished.`);
      return json(200, { action: 'fail-job', jobId: jobId ?? 'next' });
    }
    if (expireTokensSchema.safeParse(value).success) {
      const now = deps.realNow();
      deps.verifier.expireIssuedBefore(now);
      return json(200, { action: 'expire-tokens', issuedBefore: new Date(now).toISOString() });
    }
    return adminError(400, "Unknown action; expected 'fail-job' or 'expire-tokens'.", failJob.error.issues);
  }
  const rules = z.union([faultRuleSchema, z.array(faultRuleSchema)]).safeParse(value);
  if (!rules.success) return adminError(400, 'Invalid fault rule.', rules.error.issues);
  const added = (Array.isArray(rules.data) ? rules.data : [rules.data]).map((r) => deps.faults.add(r));
  return json(201, { faults: added });
}
