// Request counters and a bounded list of recent requests for the admin API. Secrets are redacted at
// record time, so nothing secret is ever held, returned or logged.
import { redactSecret } from './redact.js';

export type CredentialKind = 'api-key+bearer' | 'api-key' | 'bearer' | 'vault-token' | 'none';

export interface RequestRecord {
  /** Wall-clock ISO time. */
  time: string;
  /** Virtual-clock ISO time (the simulator's notion of "now"). */
  virtualTime: string;
  method: string;
  path: string;
  /** Route key such as 'GET /jobs/{id}'; 'unknown' for unmatched paths. */
  route: string;
  status: number;
  credential: CredentialKind;
  /** 'abcd…(redacted)' */
  apiKey?: string;
  /** Token subject (`oid`) when the bearer verified. */
  subject?: string;
  /** Id of the fault rule that answered or delayed the request. */
  faultId?: number;
  /** Set when the simulator itself refused the request, e.g. 'concurrent-job-limit' for a 429 on create. */
  refusal?: string;
}

export interface RequestSummary {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  byCredential: Record<string, number>;
  byRouteAndStatus: Record<string, Record<string, number>>;
  /** Refusals by the simulator's own limits (not injected faults), by reason. */
  byRefusal: Record<string, number>;
  /**
   * TomTom/Vault requests being answered right now, and the most at once since the last reset: a gauge of
   * client concurrency (admin requests are not counted).
   */
  inFlight: { now: number; max: number };
  recent: RequestRecord[];
}

const SECRET_QUERY = /key|token|secret|sig|password/i;

/** Path with the values of secret-looking query parameters redacted. */
export function safePath(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  if (q < 0) return pathAndQuery;
  const params = new URLSearchParams(pathAndQuery.slice(q + 1));
  for (const [name, value] of [...params]) {
    if (SECRET_QUERY.test(name)) params.set(name, redactSecret(value)!);
  }
  const query = params.toString();
  return query ? `${pathAndQuery.slice(0, q)}?${query}` : pathAndQuery.slice(0, q);
}

export function credentialKind(headers: {
  apiKey?: string;
  authorization?: string;
  vaultToken?: string;
}): CredentialKind {
  if (headers.vaultToken) return 'vault-token';
  if (headers.apiKey && headers.authorization) return 'api-key+bearer';
  if (headers.apiKey) return 'api-key';
  if (headers.authorization) return 'bearer';
  return 'none';
}

/**
 * The counters of a summary: what a saved state keeps (recent requests are not kept). States saved before
 * refusals were counted have no `byRefusal`.
 */
export type RequestCounts = Omit<RequestSummary, 'recent' | 'inFlight' | 'byRefusal'> &
  Partial<Pick<RequestSummary, 'byRefusal'>>;
type Counts = Required<RequestCounts>;

const noCounts = (): Counts => ({
  total: 0,
  byRoute: {},
  byStatus: {},
  byCredential: {},
  byRouteAndStatus: {},
  byRefusal: {},
});

export class RequestLog {
  private counts = noCounts();
  private recent: RequestRecord[] = [];
  private inFlightNow = 0;
  private inFlightMax = 0;

  constructor(private readonly capacity = 200) {}

  record(r: Omit<RequestRecord, 'apiKey' | 'path'> & { apiKey?: string; path: string }): void {
    const entry: RequestRecord = { ...r, path: safePath(r.path), apiKey: redactSecret(r.apiKey) };
    if (entry.apiKey === undefined) delete entry.apiKey;
    const c = this.counts;
    const status = String(r.status);
    c.total++;
    c.byRoute[r.route] = (c.byRoute[r.route] ?? 0) + 1;
    c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
    c.byCredential[r.credential] = (c.byCredential[r.credential] ?? 0) + 1;
    const perRoute = c.byRouteAndStatus[r.route] ?? {};
    perRoute[status] = (perRoute[status] ?? 0) + 1;
    c.byRouteAndStatus[r.route] = perRoute;
    if (r.refusal) c.byRefusal[r.refusal] = (c.byRefusal[r.refusal] ?? 0) + 1;
    this.recent.push(entry);
    if (this.recent.length > this.capacity) this.recent.splice(0, this.recent.length - this.capacity);
  }

  /** A TomTom/Vault request has arrived; call the returned function once it has been answered. */
  begin(): () => void {
    this.inFlightNow++;
    this.inFlightMax = Math.max(this.inFlightMax, this.inFlightNow);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlightNow--;
    };
  }

  summary(limit = this.capacity): RequestSummary {
    return structuredClone({
      ...this.counts,
      inFlight: { now: this.inFlightNow, max: this.inFlightMax },
      recent: limit <= 0 ? [] : this.recent.slice(-limit),
    });
  }

  /** The counters so far, for a saved state. */
  snapshotCounts(): Counts {
    return structuredClone(this.counts);
  }

  /** Continues counting from saved counters. */
  restoreCounts(counts: RequestCounts): void {
    this.counts = { ...noCounts(), ...structuredClone(counts) };
  }

  reset(): void {
    this.counts = noCounts();
    this.recent = [];
    // Requests still being answered stay counted; the high-water mark restarts from them.
    this.inFlightMax = this.inFlightNow;
  }
}
