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
 * them, but the Key Vault stand-in and the TomTom simulator verify them against `jwks`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { closeServer, listen, RouteCounter, readBody, safeHandler, sendJson } from './http-util.js';

export interface ManagedIdentity {
  clientId: string;
  objectId: string;
  /** ARM resource id, matched against the `mi_res_id` query parameter. */
  resourceId?: string;
}

export interface ServicePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  objectId: string;
}

export interface IdentityStandInOptions {
  tls: { cert: string; key: string };
  /** Tenant of the app's managed identities; default a fixed local GUID. */
  tenantId?: string;
  /** Secret the MI endpoint expects in X-IDENTITY-HEADER; default random. */
  identityHeader?: string;
  /** The system-assigned identity, used when a request names no identity; default derived ids. */
  systemAssigned?: Partial<ManagedIdentity>;
  /** User-assigned identities; a missing objectId is derived from the client id. */
  managedIdentities?: (Omit<ManagedIdentity, 'objectId'> & { objectId?: string })[];
  servicePrincipals?: (Omit<ServicePrincipal, 'objectId'> & { objectId?: string })[];
  /** Access token lifetime in seconds; default 3600, at least 600 (see below). */
  tokenLifetimeSec?: number;
  /** HTTPS port (Entra + MI); default dynamic. */
  port?: number;
  /** Plain-http port for the MI endpoint; default dynamic. */
  miPort?: number;
}

/** Claims for `issueToken`; anything omitted gets the value a real token would carry. */
export type TokenClaims = JWTPayload & { aud: string; oid?: string; appid?: string; tid?: string };

export interface IssuedRequest {
  endpoint: string;
  status: number;
  tenantId?: string;
  clientId?: string;
  resource?: string;
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
  addManagedIdentity(identity: Omit<ManagedIdentity, 'objectId'> & { objectId?: string }): ManagedIdentity;
  addServicePrincipal(
    principal: Omit<ServicePrincipal, 'objectId'> & { objectId?: string },
  ): ServicePrincipal;
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
/** Bound on `issuedTokens()` memory in long-running stacks. */
const MAX_REMEMBERED_TOKENS = 10_000;

/** A stable object id for a client id, so settings and allow-lists can be computed before startup. */
export function deriveObjectId(clientId: string): string {
  const h = createHash('sha256').update(`gem-flow-local-oid:${clientId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function startIdentity(options: IdentityStandInOptions): Promise<IdentityStandIn> {
  const tenantId = options.tenantId ?? LOCAL_TENANT_ID;
  const identityHeader = options.identityHeader ?? randomBytes(24).toString('base64url');
  const tokenLifetimeSec = options.tokenLifetimeSec ?? DEFAULT_LIFETIME_SEC;
  if (tokenLifetimeSec < MIN_LIFETIME_SEC) {
    throw new Error(
      `identity stand-in: tokenLifetimeSec ${tokenLifetimeSec} is below ${MIN_LIFETIME_SEC}; MSAL would refetch ` +
        'on every call. Use issueToken() to mint short-lived or expired tokens for a test instead.',
    );
  }

  const systemClientId = options.systemAssigned?.clientId ?? 'gemflow-local-system-identity';
  const systemAssigned: ManagedIdentity = {
    clientId: systemClientId,
    objectId: options.systemAssigned?.objectId ?? deriveObjectId(systemClientId),
    resourceId: options.systemAssigned?.resourceId,
  };
  const identities = new Map<string, ManagedIdentity>();
  const principals = new Map<string, ServicePrincipal>(); // key `${tenant}/${clientId}`
  const addManagedIdentity: IdentityStandIn['addManagedIdentity'] = (mi) => {
    const full: ManagedIdentity = { ...mi, objectId: mi.objectId ?? deriveObjectId(mi.clientId) };
    identities.set(full.clientId, full);
    return full;
  };
  const addServicePrincipal: IdentityStandIn['addServicePrincipal'] = (sp) => {
    const full: ServicePrincipal = {
      ...sp,
      objectId: sp.objectId ?? deriveObjectId(`${sp.tenantId}/${sp.clientId}`),
    };
    principals.set(`${full.tenantId.toLowerCase()}/${full.clientId}`, full);
    return full;
  };
  for (const mi of options.managedIdentities ?? []) addManagedIdentity(mi);
  for (const sp of options.servicePrincipals ?? []) addServicePrincipal(sp);

  // RS256 key generation takes ~150 ms; it runs while the servers bind.
  const keyPromise = generateKeyPair('RS256', { extractable: true });

  const counter = new RouteCounter();
  const log: IssuedRequest[] = [];
  /** Every token signed here, in this process's memory only (for leak scans; never served over HTTP). */
  const issued: string[] = [];
  const record = (entry: IssuedRequest): void => {
    counter.hit(entry.endpoint);
    if (entry.status >= 400) counter.hit(`${entry.endpoint}:${entry.status}`);
    log.push(entry);
    if (log.length > 1000) log.shift();
  };

  let signer: { sign(claims: JWTPayload): Promise<string> } | undefined;
  let jwks: JSONWebKeySet = { keys: [] };

  const baseClaims = (
    aud: string,
    tid: string,
    oid: string,
    appid: string,
    lifetimeSec: number,
  ): JWTPayload => {
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
  };

  const issueToken: IdentityStandIn['issueToken'] = async (claims, opts) => {
    if (!signer) throw new Error('identity stand-in: issueToken called before startup finished');
    const oid = claims.oid ?? systemAssigned.objectId;
    const defaults = baseClaims(
      claims.aud,
      claims.tid ?? tenantId,
      oid,
      claims.appid ?? systemAssigned.clientId,
      opts?.lifetimeSec ?? tokenLifetimeSec,
    );
    return signer.sign({ ...defaults, ...claims });
  };

  const findManagedIdentity = (url: URL): ManagedIdentity | 'unknown' => {
    const clientId = url.searchParams.get('client_id');
    const objectId = url.searchParams.get('object_id') ?? url.searchParams.get('principal_id');
    const resId = url.searchParams.get('mi_res_id') ?? url.searchParams.get('msi_res_id');
    if (!clientId && !objectId && !resId) return systemAssigned;
    const all = [systemAssigned, ...identities.values()];
    const found = all.find(
      (mi) =>
        (clientId !== null && mi.clientId === clientId) ||
        (objectId !== null && mi.objectId === objectId) ||
        (resId !== null &&
          mi.resourceId !== undefined &&
          mi.resourceId.toLowerCase() === resId.toLowerCase()),
    );
    return found ?? 'unknown';
  };

  const managedIdentityCache = new Map<string, { accessToken: string; claims: JWTPayload }>();
  const cachedManagedIdentityToken = async (mi: ManagedIdentity, resource: string) => {
    const key = `${mi.clientId}\u0000${resource}`;
    const cached = managedIdentityCache.get(key);
    if (cached && (cached.claims.exp ?? 0) - Date.now() / 1000 > REISSUE_WHEN_LEFT_SEC) return cached;
    const claims = baseClaims(resource, tenantId, mi.objectId, mi.clientId, tokenLifetimeSec);
    const fresh = { accessToken: await signer!.sign(claims), claims };
    managedIdentityCache.set(key, fresh);
    return fresh;
  };

  const managedIdentityToken = async (req: IncomingMessage, res: ServerResponse, url: URL, imds: boolean) => {
    const endpoint = imds ? 'imds' : 'mi';
    const resource = url.searchParams.get('resource') ?? undefined;
    const authorized = imds
      ? req.headers.metadata === 'true'
      : req.headers['x-identity-header'] === identityHeader;
    if (!authorized) {
      record({ endpoint, status: 400, resource });
      return sendJson(res, 400, {
        statusCode: 400,
        message: imds
          ? 'Required metadata header not specified'
          : 'The X-IDENTITY-HEADER request header is missing or does not match IDENTITY_HEADER.',
      });
    }
    if (!resource) {
      record({ endpoint, status: 400 });
      return sendJson(res, 400, { statusCode: 400, message: 'The resource query parameter is required.' });
    }
    const mi = findManagedIdentity(url);
    if (mi === 'unknown') {
      record({ endpoint, status: 400, resource, clientId: url.searchParams.get('client_id') ?? undefined });
      return sendJson(res, 400, {
        statusCode: 400,
        message: 'No Managed Identity found for specified ClientId/ResourceId/PrincipalId.',
        correlationId: randomUUID(),
      });
    }
    const { accessToken, claims } = await cachedManagedIdentityToken(mi, resource);
    record({ endpoint, status: 200, resource, clientId: mi.clientId });
    const expiresOn = String(claims.exp);
    return sendJson(res, 200, {
      access_token: accessToken,
      expires_on: expiresOn,
      resource,
      token_type: 'Bearer',
      client_id: mi.clientId,
      ...(imds
        ? {
            expires_in: String(tokenLifetimeSec),
            ext_expires_in: String(tokenLifetimeSec),
            not_before: String(claims.nbf),
          }
        : {}),
    });
  };

  const entraError = (
    res: ServerResponse,
    status: number,
    error: string,
    code: number,
    description: string,
  ): void => {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    sendJson(res, status, {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: traceId,
      correlation_id: correlationId,
    });
  };

  const clientCredentialsToken = async (req: IncomingMessage, res: ServerResponse, tenant: string) => {
    const form = new URLSearchParams(await readBody(req));
    // MSAL also sends x-client-*, client-request-id and, for CAE, a `claims` JSON: all accepted and ignored.
    const clientId = form.get('client_id') ?? '';
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const scope = scopes.find((s) => s.endsWith('/.default'));
    const resource = scope?.slice(0, -'/.default'.length);
    const entry = { endpoint: 'token', tenantId: tenant, clientId, resource };
    if (form.get('grant_type') !== 'client_credentials') {
      record({ ...entry, status: 400 });
      return entraError(
        res,
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${form.get('grant_type')}'; only client_credentials is served locally.`,
      );
    }
    const principal = principals.get(`${tenant.toLowerCase()}/${clientId}`);
    if (!principal) {
      record({ ...entry, status: 400 });
      return entraError(
        res,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
      );
    }
    if (form.get('client_secret') !== principal.clientSecret) {
      record({ ...entry, status: 401 });
      return entraError(
        res,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    if (!resource) {
      record({ ...entry, status: 400 });
      return entraError(
        res,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${form.get('scope') ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const claims = baseClaims(
      resource,
      principal.tenantId,
      principal.objectId,
      principal.clientId,
      tokenLifetimeSec,
    );
    const accessToken = await signer!.sign(claims);
    record({ ...entry, status: 200 });
    return sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: tokenLifetimeSec,
      ext_expires_in: tokenLifetimeSec,
      access_token: accessToken,
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, secure: boolean): Promise<void> => {
    const origin = `${secure ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`;
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    if (req.method === 'GET' && path === '/msi/token') return managedIdentityToken(req, res, url, false);
    // MSAL's IMDS source sends a trailing slash.
    if (req.method === 'GET' && path.replace(/\/$/, '') === '/metadata/identity/oauth2/token') {
      return managedIdentityToken(req, res, url, true);
    }
    if (req.method === 'GET' && path === '/_admin/counts') return sendJson(res, 200, counter.snapshot());
    if (req.method === 'POST' && path === '/_admin/reset') {
      counter.reset();
      log.length = 0;
      return sendJson(res, 200, { reset: true });
    }
    if (!secure)
      return sendJson(res, 404, { error: 'not_found', error_description: 'only the MI endpoint is on http' });

    let m = path.match(/^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/);
    if (req.method === 'GET' && m) {
      const t = m[1]!;
      record({ endpoint: 'openid-configuration', status: 200, tenantId: t });
      return sendJson(res, 200, {
        issuer: `${origin}/${t}/v2.0`,
        token_endpoint: `${origin}/${t}/oauth2/v2.0/token`,
        authorization_endpoint: `${origin}/${t}/oauth2/v2.0/authorize`,
        jwks_uri: `${origin}/${t}/discovery/v2.0/keys`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
    }
    m = path.match(/^\/([^/]+)\/oauth2\/v2\.0\/token$/);
    if (req.method === 'POST' && m) return clientCredentialsToken(req, res, m[1]!);
    m = path.match(/^\/([^/]+)\/discovery\/v2\.0\/keys$/);
    if (req.method === 'GET' && m) {
      record({ endpoint: 'jwks', status: 200, tenantId: m[1] });
      return sendJson(res, 200, jwks);
    }
    counter.hit('not-found');
    return sendJson(res, 404, {
      error: 'not_found',
      error_description: `no identity route for ${req.method} ${path}`,
    });
  };

  const httpsServer = https.createServer(
    { cert: options.tls.cert, key: options.tls.key },
    safeHandler('identity', (req, res) => handle(req, res, true)),
  );
  const httpServer = http.createServer(safeHandler('identity', (req, res) => handle(req, res, false)));
  const [port, miPort, keys] = await Promise.all([
    listen(httpsServer, options.port),
    listen(httpServer, options.miPort),
    keyPromise,
  ]);
  const publicJwk = await exportJWK(keys.publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  jwks = { keys: [{ ...publicJwk, kid, use: 'sig', alg: 'RS256' }] };
  signer = {
    sign: async (claims) => {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
        .sign(keys.privateKey);
      issued.push(token);
      if (issued.length > MAX_REMEMBERED_TOKENS) issued.shift();
      return token;
    },
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
    jwks,
    tokenLifetimeSec,
    addManagedIdentity,
    addServicePrincipal,
    issueToken,
    issuedTokens: () => [...issued],
    counts: () => counter.snapshot(),
    requests: () => [...log],
    resetCounts: () => {
      counter.reset();
      log.length = 0;
    },
    close: async () => {
      await Promise.all([closeServer(httpsServer), closeServer(httpServer)]);
    },
  };
}
