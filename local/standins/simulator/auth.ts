// Authentication and authorization decisions for TomTom routes, as documented on the
// API-authentication page: API key (401 invalid, 403 missing product) and an Entra bearer token
// (401, with distinct "expired" and "invalid" wording). Pure apart from jose's signature check.
import { createHash } from 'node:crypto';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { forbidden, INVALID_KEY_MESSAGE, type SimResponse, unauthorized } from './responses.js';
import type { Product } from './types.js';

const PRODUCT_NAMES: Record<Product, string> = {
  gem: 'Orbis GEM API',
  pdg: 'Orbis Private Data Gateway API',
};

const TOKEN_HINT =
  'Get a new one with: az account get-access-token --scope https://gem.core.orbis.tomtom.com/user_impersonation';

/** API keys and their products; admin calls add and revoke keys at runtime (rotation tests). */
export class KeyRegistry {
  private readonly keys = new Map<string, Set<Product>>();

  constructor(initial: { key: string; products: Product[] }[] = []) {
    for (const k of initial) this.add(k.key, k.products);
  }
  add(key: string, products: Product[]): void {
    this.keys.set(key, new Set(products));
  }
  revoke(key: string): boolean {
    return this.keys.delete(key);
  }
  products(key: string): ReadonlySet<Product> | undefined {
    return this.keys.get(key);
  }
  /** Every key held and its products, oldest first (for the saved state). */
  list(): { key: string; products: Product[] }[] {
    return [...this.keys].map(([key, products]) => ({ key, products: [...products] }));
  }
}

/** 401 for a missing/unknown/revoked key, 403 for a key without the product, else null (allowed). */
export function checkApiKey(
  keys: KeyRegistry,
  header: string | undefined,
  product: Product,
): SimResponse | null {
  const products = header ? keys.products(header) : undefined;
  if (!products) return unauthorized(INVALID_KEY_MESSAGE);
  if (!products.has(product)) {
    return forbidden(
      `The API key is not enabled for the ${PRODUCT_NAMES[product]}. Enable the "Orbis GEM API" and ` +
        `"Orbis Private Data Gateway API" products on the key at my.tomtom.com.`,
    );
  }
  return null;
}

export interface Caller {
  /** Entra object id of the user (falls back to `sub` when a token has no `oid`). */
  oid: string;
  sub?: string;
  /** Issued-at, epoch seconds. */
  iat?: number;
}

export type BearerResult = { ok: true; caller: Caller } | { ok: false; response: SimResponse };

export interface BearerVerifier {
  verify(authorization: string | undefined, nowMs: number): Promise<BearerResult>;
  /** Treat every token issued before `nowMs` (and every token already presented) as expired. */
  expireIssuedBefore(nowMs: number): void;
  reset(): void;
}

const invalid = (why: string): BearerResult => ({
  ok: false,
  response: unauthorized(`The access token is invalid: ${why}. ${TOKEN_HINT}`),
});
const expired = (): BearerResult => ({
  ok: false,
  response: unauthorized(`The access token has expired. ${TOKEN_HINT}`),
});

/** How far token services may backdate `iat` (the identity stand-in uses 5 s). */
export const IAT_BACKDATE_SEC = 5;

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Verifies Entra access tokens against the identity stand-in's JWKS. Token lifetimes are wall-clock
 * concepts (MSAL and Azurite judge them by real time), so callers pass real `Date.now()`, not the
 * virtual clock.
 */
export function createBearerVerifier(jwks: JSONWebKeySet, audience: string): BearerVerifier {
  const keySet: JWTVerifyGetKey = createLocalJWKSet(jwks);
  const base = audience.replace(/\/+$/, '');
  const audiences = [base, `${base}/`];
  let revokedBeforeSec: number | undefined;
  // Tokens seen before an expire-tokens action are revoked exactly. For unseen ones only `iat` is
  // left, and token services backdate it (Entra and the identity stand-in by a few seconds), so an
  // `iat` within that allowance of the action cannot tell "just before" from "just after": such tokens
  // are treated as issued after it, so a client that fetches a fresh token right away is accepted.
  const seen = new Set<string>();
  let revokedSeen = new Set<string>();

  return {
    async verify(authorization, nowMs) {
      if (!authorization) {
        return {
          ok: false,
          response: unauthorized(
            `The access token is missing. Send "Authorization: Bearer <token>" with an Entra ID access token. ${TOKEN_HINT}`,
          ),
        };
      }
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) return invalid('the Authorization header must be "Bearer <token>"');
      const token = m[1]!;
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keySet, {
          audience: audiences,
          currentDate: new Date(nowMs),
          clockTolerance: 5,
        }));
      } catch (e) {
        if (e instanceof errors.JWTExpired) return expired();
        if (e instanceof errors.JWTClaimValidationFailed) return invalid(`claim "${e.claim}" ${e.reason}`);
        if (e instanceof errors.JWSSignatureVerificationFailed)
          return invalid('the signature does not verify');
        if (e instanceof errors.JWKSNoMatchingKey) return invalid('it is not signed by a trusted key');
        return invalid('it is not a well-formed signed JWT');
      }
      const iss = payload.iss;
      if (typeof iss !== 'string' || !iss.startsWith('https://sts.windows.net/')) {
        return invalid('it was not issued by Microsoft Entra ID (unexpected issuer)');
      }
      const oid = typeof payload.oid === 'string' ? payload.oid : undefined;
      const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
      if (!oid && !sub) return invalid('it carries no user identity (oid)');
      const iat = typeof payload.iat === 'number' ? payload.iat : undefined;
      const digest = hashToken(token);
      if (revokedBeforeSec !== undefined) {
        if (iat === undefined || iat < revokedBeforeSec - IAT_BACKDATE_SEC || revokedSeen.has(digest))
          return expired();
      }
      if (seen.size < 50_000) seen.add(digest);
      return { ok: true, caller: { oid: (oid ?? sub)!, sub, iat } };
    },
    expireIssuedBefore(nowMs) {
      revokedBeforeSec = Math.floor(nowMs / 1000);
      revokedSeen = new Set([...revokedSeen, ...seen]);
      seen.clear();
    },
    reset() {
      revokedBeforeSec = undefined;
      revokedSeen = new Set();
      seen.clear();
    },
  };
}
