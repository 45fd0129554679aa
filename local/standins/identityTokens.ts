/**
 * Token issuing shared by the identity stand-in's managed-identity and Entra endpoints: the RS256 key made at
 * startup and the JWKS that verifies it, the claims a real access token carries, the in-memory record of every
 * token signed (for leak scans; never served over HTTP) and the request log without secrets. Azurite only
 * decodes these tokens; the Key Vault stand-in and the TomTom simulator verify them against the JWKS.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  type GenerateKeyPairResult,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { RouteCounter } from './httpUtil.js';

/** Claims for `issueToken`; anything omitted gets the value a real token would carry. */
export type TokenClaims = JWTPayload & { aud: string; oid?: string; appid?: string; tid?: string };

export interface IssuedRequest {
  endpoint: string;
  status: number;
  tenantId?: string;
  clientId?: string;
  resource?: string;
}

/** Bound on `issuedTokens()` memory in long-running stacks. */
const MAX_REMEMBERED_TOKENS = 10_000;
/** Bound on the request log. */
const MAX_LOGGED_REQUESTS = 1000;

/** A stable object id for a client id, so settings and allow-lists can be computed before startup. */
export function deriveObjectId(clientId: string): string {
  const h = createHash('sha256').update(`gem-flow-local-oid:${clientId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The claims of an app-only access token for `aud`, valid from 5 s ago for `lifetimeSec`. */
export function baseClaims(
  aud: string,
  tid: string,
  oid: string,
  appid: string,
  lifetimeSec: number,
): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud,
    // Azurite's OAuth check accepts only sts.windows.net-style issuers (v1 tokens, as Entra issues them
    // for non-Graph resources requested by apps).
    iss: `https://sts.windows.net/${tid}/`,
    iat: now - 5,
    nbf: now - 5,
    exp: now + lifetimeSec,
    oid,
    sub: oid,
    appid,
    tid,
    idtyp: 'app',
    ver: '1.0',
    uti: randomBytes(16).toString('base64url'),
  };
}

/** The signing key (set once it is generated), its public JWKS and every token it signed. */
export class TokenSigner {
  /** Empty until `useKeyPair`; the JWKS route serves whatever is current. */
  jwks: JSONWebKeySet = { keys: [] };
  readonly #issued: string[] = [];
  #key?: { privateKey: GenerateKeyPairResult['privateKey']; kid: string };

  async useKeyPair(keys: GenerateKeyPairResult): Promise<void> {
    const publicJwk = await exportJWK(keys.publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    this.jwks = { keys: [{ ...publicJwk, kid, use: 'sig', alg: 'RS256' }] };
    this.#key = { privateKey: keys.privateKey, kid };
  }

  async sign(claims: JWTPayload): Promise<string> {
    if (!this.#key) throw new Error('identity stand-in: issueToken called before startup finished');
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.#key.kid })
      .sign(this.#key.privateKey);
    this.#issued.push(token);
    if (this.#issued.length > MAX_REMEMBERED_TOKENS) this.#issued.shift();
    return token;
  }

  /** Copies of the signed tokens, newest last. */
  issued(): string[] {
    return [...this.#issued];
  }
}

/** Per-endpoint counts (with `<endpoint>:<status>` for errors) and the bounded request log. */
export class RequestRecorder {
  readonly #counter = new RouteCounter();
  readonly #log: IssuedRequest[] = [];

  record(entry: IssuedRequest): void {
    this.#counter.hit(entry.endpoint);
    if (entry.status >= 400) this.#counter.hit(`${entry.endpoint}:${entry.status}`);
    this.#log.push(entry);
    if (this.#log.length > MAX_LOGGED_REQUESTS) this.#log.shift();
  }

  /** Counts a request that is not logged (an unknown route). */
  hit(route: string): void {
    this.#counter.hit(route);
  }

  counts(): Record<string, number> {
    return this.#counter.snapshot();
  }

  requests(): IssuedRequest[] {
    return [...this.#log];
  }

  reset(): void {
    this.#counter.reset();
    this.#log.length = 0;
  }
}
