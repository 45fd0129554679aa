// Pure route table: (method, path) → which TomTom/Vault operation, its stable route key (used by
// counters and fault rules), the API product a key must carry, and path parameters.
import type { Product } from './types.js';

export type RouteName =
  | 'listStorages'
  | 'getStorage'
  | 'getCredentials'
  | 'createJob'
  | 'listJobs'
  | 'getJob'
  | 'unwrap';

export type PdgVariant = 'private-gateway' | 'pdg';

export interface MatchedRoute {
  name: RouteName;
  /** e.g. 'GET /storages', 'POST /jobs', 'GET /jobs/{id}', 'POST /unwrap'. */
  key: string;
  /** API product the key needs; undefined for Vault (no TomTom auth). */
  product?: Product;
  pdgVariant?: PdgVariant;
  params: { storageId?: string; jobId?: string };
}

export type RouteResult =
  | { kind: 'route'; route: MatchedRoute }
  | { kind: 'method-not-allowed'; key: string; allow: string[] }
  | { kind: 'not-found' };

const PDG_PREFIXES: Record<PdgVariant, string> = {
  'private-gateway': '/maps/orbis/platform/private-gateway',
  pdg: '/maps/orbis/platform/pdg',
};
const GEM_PREFIX = '/maps/orbis/platform/gem';
const UNWRAP_PATH = '/v1/sys/wrapping/unwrap';

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function pick(
  method: string,
  table: Record<string, Omit<MatchedRoute, 'params' | 'pdgVariant'>>,
  params: MatchedRoute['params'],
  pdgVariant?: PdgVariant,
): RouteResult {
  const hit = table[method];
  if (hit) return { kind: 'route', route: { ...hit, params, ...(pdgVariant ? { pdgVariant } : {}) } };
  const any = Object.values(table)[0]!;
  return { kind: 'method-not-allowed', key: any.key.replace(/^\S+ /, '* '), allow: Object.keys(table) };
}

export function matchRoute(method: string, pathname: string): RouteResult {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;

  if (path === UNWRAP_PATH) {
    return pick(method, { POST: { name: 'unwrap', key: 'POST /unwrap' } }, {});
  }

  for (const variant of Object.keys(PDG_PREFIXES) as PdgVariant[]) {
    const prefix = PDG_PREFIXES[variant];
    if (path !== `${prefix}/storages` && !path.startsWith(`${prefix}/storages/`)) continue;
    const rest = path
      .slice(prefix.length + '/storages'.length)
      .split('/')
      .filter(Boolean);
    if (rest.length === 0) {
      return pick(
        method,
        { GET: { name: 'listStorages', key: 'GET /storages', product: 'pdg' } },
        {},
        variant,
      );
    }
    const storageId = decode(rest[0]!);
    if (storageId === undefined) return { kind: 'not-found' };
    if (rest.length === 1) {
      return pick(
        method,
        { GET: { name: 'getStorage', key: 'GET /storages/{id}', product: 'pdg' } },
        { storageId },
        variant,
      );
    }
    if (rest.length === 2 && rest[1] === 'credentials') {
      return pick(
        method,
        { GET: { name: 'getCredentials', key: 'GET /storages/{id}/credentials', product: 'pdg' } },
        { storageId },
        variant,
      );
    }
    return { kind: 'not-found' };
  }

  if (path === `${GEM_PREFIX}/jobs`) {
    return pick(
      method,
      {
        POST: { name: 'createJob', key: 'POST /jobs', product: 'gem' },
        GET: { name: 'listJobs', key: 'GET /jobs', product: 'gem' },
      },
      {},
    );
  }
  if (path.startsWith(`${GEM_PREFIX}/jobs/`)) {
    const rest = path.slice(`${GEM_PREFIX}/jobs/`.length);
    if (rest.includes('/')) return { kind: 'not-found' };
    const jobId = decode(rest);
    if (jobId === undefined) return { kind: 'not-found' };
    return pick(method, { GET: { name: 'getJob', key: 'GET /jobs/{id}', product: 'gem' } }, { jobId });
  }
  return { kind: 'not-found' };
}

/** Every route key the simulator counts; admin fault rules may name any of these (or '*'). */
export const ROUTE_KEYS = [
  'GET /storages',
  'GET /storages/{id}',
  'GET /storages/{id}/credentials',
  'POST /jobs',
  'GET /jobs',
  'GET /jobs/{id}',
  'POST /unwrap',
] as const;
