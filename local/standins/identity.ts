/**
 * Identity stand-in: the two token sources the app meets in Azure.
 *
 * - App Service managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, api-version 2019-08-01), on
 *   plain http exactly as App Service and Functions expose it (MSAL's App Service source calls it that way;
 *   proven in reference/azure-standins.md §2). IMDS shape also answered, for AZURE_POD_IDENTITY_AUTHORITY_HOST.
 * - Entra v2 client-credentials endpoints per tenant (OIDC discovery + token), on https because
 *   @azure/identity refuses an http authority host. The issuer is built from the request's Host header
 *   since MSAL requires it to share the authority's origin.
 *
 * Access tokens are RS256 JWTs signed with a key made at startup. Azurite (`--oauth basic`) only decodes
 * them, but the Key Vault stand-in and the TomTom simulator verify them against `jwks`. This file wires the
 * parts: identityManaged.ts (the managed-identity endpoint), identityEntra.ts (discovery, JWKS and the
 * client-credentials token endpoint) and identityTokens.ts (the signing key, claims and request log).
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { generateKeyPair, type JSONWebKeySet } from 'jose';
import { closeServer, listen, safeHandler, sendJson } from './httpUtil.js';
import { EntraEndpoints, type ServicePrincipal, type ServicePrincipalInput } from './identityEntra.js';
import {
  type ManagedIdentity,
  ManagedIdentityEndpoint,
  type ManagedIdentityInput,
} from './identityManaged.js';
import {
  baseClaims,
  deriveObjectId,
  type IssuedRequest,
  RequestRecorder,
  type TokenClaims,
  TokenSigner,
} from './identityTokens.js';

export type { ServicePrincipal } from './identityEntra.js';
export type { ManagedIdentity } from './identityManaged.js';
export { deriveObjectId, type IssuedRequest, type TokenClaims } from './identityTokens.js';

export interface IdentityStandInOptions {
  tls: { cert: string; key: string };
  /** Tenant of the app's managed identities; default a fixed local GUID. */
  tenantId?: string;
  /** Secret the MI endpoint expects in X-IDENTITY-HEADER; default random. */
  identityHeader?: string;
  /** The system-assigned identity, used when a request names no identity; default derived ids. */
  systemAssigned?: Partial<ManagedIdentity>;
  /** User-assigned identities; a missing objectId is derived from the client id. */
  managedIdentities?: ManagedIdentityInput[];
  servicePrincipals?: ServicePrincipalInput[];
  /** Access token lifetime in seconds; default 3600, at least 600 (see below). */
  tokenLifetimeSec?: number;
  /** HTTPS port (Entra + MI); default dynamic. */
  port?: number;
  /** Plain-http port for the MI endpoint; default dynamic. */
  miPort?: number;
}

export interface IdentityStandIn {
  /** HTTPS origin of the Entra endpoints: the value for AZURE_AUTHORITY_HOST / `authorityHost`. */
  url: string;
  authorityHost: string;
  /** `http://127.0.0.1:<p>/msi/token`: the value for IDENTITY_ENDPOINT. */
  identityEndpoint: string;
  identityHeader: string;
  /** Origin for AZURE_POD_IDENTITY_AUTHORITY_HOST (IMDS shape). */
  imdsHost: string;
  tenantId: string;
  systemAssigned: ManagedIdentity;
  /** Public keys that verify every token issued here (jose `createLocalJWKSet(identity.jwks)`). */
  jwks: JSONWebKeySet;
  tokenLifetimeSec: number;
  addManagedIdentity(identity: ManagedIdentityInput): ManagedIdentity;
  addServicePrincipal(principal: ServicePrincipalInput): ServicePrincipal;
  /** Signs a token with the stand-in key; for tests (expired, wrong audience, foreign oid, …). */
  issueToken(claims: TokenClaims, options?: { lifetimeSec?: number }): Promise<string>;
  /**
   * Every access token this stand-in has signed (newest last, at most the last 10,000), so a test can search
   * stored state and logs for the exact strings. In-process only: no HTTP route returns them.
   */
  issuedTokens(): string[];
  /** Requests per endpoint: mi, imds, openid-configuration, token, jwks (and `<endpoint>:<status>` for errors). */
  counts(): Record<string, number>;
  /** Request log without secrets or tokens. */
  requests(): IssuedRequest[];
  resetCounts(): void;
  close(): Promise<void>;
}

export const LOCAL_TENANT_ID = '6c0c1a5e-9e6f-4f1e-8a55-10ca1d0e0001';
const DEFAULT_LIFETIME_SEC = 3600;
/**
 * MSAL treats a token as expired 5 minutes before its expiry and refetches on every call below that; 10
 * minutes keeps caching meaningful (reference/azure-standins-service-principal.md §4).
 */
const MIN_LIFETIME_SEC = 600;
/**
 * The managed-identity endpoint serves the token it cached for an identity and resource, as Azure's does
 * ("the back-end services for managed identities maintain a cache per resource URI for around 24 hours";
 * https://learn.microsoft.com/azure/app-service/overview-managed-identity#configure-target-resource), and
 * issues a new one only when the cached one nears expiry: when less than this remains, which is after MSAL
 * (5 minutes before expiry) has stopped using it.
 */
const REISSUE_WHEN_LEFT_SEC = MIN_LIFETIME_SEC;

/** The parts one request may reach; the router picks among them. */
interface IdentityParts {
  managed: ManagedIdentityEndpoint;
  entra: EntraEndpoints;
  recorder: RequestRecorder;
}

export async function startIdentity(options: IdentityStandInOptions): Promise<IdentityStandIn> {
  const tenantId = options.tenantId ?? LOCAL_TENANT_ID;
  const identityHeader = options.identityHeader ?? randomBytes(24).toString('base64url');
  const tokenLifetimeSec = checkedLifetime(options.tokenLifetimeSec ?? DEFAULT_LIFETIME_SEC);
  const systemAssigned = systemAssignedIdentity(options.systemAssigned);
  // RS256 key generation takes ~150 ms; it runs while the servers bind.
  const keyPromise = generateKeyPair('RS256', { extractable: true });

  const signer = new TokenSigner();
  const recorder = new RequestRecorder();
  const managed = new ManagedIdentityEndpoint(
    { tenantId, identityHeader, tokenLifetimeSec, systemAssigned, reissueWhenLeftSec: REISSUE_WHEN_LEFT_SEC },
    signer,
    recorder,
  );
  const entra = new EntraEndpoints(tokenLifetimeSec, signer, recorder);
  for (const mi of options.managedIdentities ?? []) managed.add(mi);
  for (const sp of options.servicePrincipals ?? []) entra.addServicePrincipal(sp);

  const parts: IdentityParts = { managed, entra, recorder };
  const httpsServer = https.createServer(
    { cert: options.tls.cert, key: options.tls.key },
    safeHandler('identity', (req, res) => routeIdentityRequest(parts, req, res, true)),
  );
  const httpServer = http.createServer(
    safeHandler('identity', (req, res) => routeIdentityRequest(parts, req, res, false)),
  );
  const [port, miPort, keys] = await Promise.all([
    listen(httpsServer, options.port),
    listen(httpServer, options.miPort),
    keyPromise,
  ]);
  await signer.useKeyPair(keys);

  const issueToken: IdentityStandIn['issueToken'] = async (claims, opts) => {
    const defaults = baseClaims(
      claims.aud,
      claims.tid ?? tenantId,
      claims.oid ?? systemAssigned.objectId,
      claims.appid ?? systemAssigned.clientId,
      opts?.lifetimeSec ?? tokenLifetimeSec,
    );
    return signer.sign({ ...defaults, ...claims });
  };
  const url = `https://127.0.0.1:${port}`;
  return {
    url,
    authorityHost: url,
    identityEndpoint: `http://127.0.0.1:${miPort}/msi/token`,
    identityHeader,
    imdsHost: `http://127.0.0.1:${miPort}`,
    tenantId,
    systemAssigned,
    jwks: signer.jwks,
    tokenLifetimeSec,
    addManagedIdentity: (mi) => managed.add(mi),
    addServicePrincipal: (sp) => entra.addServicePrincipal(sp),
    issueToken,
    issuedTokens: () => signer.issued(),
    counts: () => recorder.counts(),
    requests: () => recorder.requests(),
    resetCounts: () => recorder.reset(),
    close: async () => {
      await Promise.all([closeServer(httpsServer), closeServer(httpServer)]);
    },
  };
}

function checkedLifetime(tokenLifetimeSec: number): number {
  if (tokenLifetimeSec < MIN_LIFETIME_SEC) {
    throw new Error(
      `identity stand-in: tokenLifetimeSec ${tokenLifetimeSec} is below ${MIN_LIFETIME_SEC}; MSAL would refetch ` +
        'on every call. Use issueToken() to mint short-lived or expired tokens for a test instead.',
    );
  }
  return tokenLifetimeSec;
}

function systemAssignedIdentity(given: Partial<ManagedIdentity> | undefined): ManagedIdentity {
  const clientId = given?.clientId ?? 'gemflow-local-system-identity';
  return {
    clientId,
    objectId: given?.objectId ?? deriveObjectId(clientId),
    resourceId: given?.resourceId,
  };
}

/**
 * One router for both servers: the managed-identity endpoints and the admin routes on either, the Entra
 * endpoints on https only.
 */
async function routeIdentityRequest(
  parts: IdentityParts,
  req: IncomingMessage,
  res: ServerResponse,
  secure: boolean,
): Promise<void> {
  const origin = `${secure ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`;
  const url = new URL(req.url ?? '/', origin);
  const path = url.pathname;
  if (req.method === 'GET' && path === '/msi/token') return parts.managed.handle(req, res, url, false);
  // MSAL's IMDS source sends a trailing slash.
  if (req.method === 'GET' && path.replace(/\/$/, '') === '/metadata/identity/oauth2/token') {
    return parts.managed.handle(req, res, url, true);
  }
  if (req.method === 'GET' && path === '/_admin/counts') return sendJson(res, 200, parts.recorder.counts());
  if (req.method === 'POST' && path === '/_admin/reset') {
    parts.recorder.reset();
    return sendJson(res, 200, { reset: true });
  }
  if (!secure)
    return sendJson(res, 404, { error: 'not_found', error_description: 'only the MI endpoint is on http' });
  if (await parts.entra.route(req, res, path, origin)) return;
  parts.recorder.hit('not-found');
  return sendJson(res, 404, {
    error: 'not_found',
    error_description: `no identity route for ${req.method} ${path}`,
  });
}
