/**
 * Key Vault stand-in (secrets only), speaking the REST shape @azure/keyvault-secrets uses: an unauthenticated
 * probe gets the 401 challenge naming tenant and resource, then the client retries with a bearer token. The
 * token is verified like Key Vault does (signature against the identity stand-in's keys, audience
 * https://vault.azure.net, lifetime). The client must set `disableChallengeResourceVerification`, because a
 * vault at 127.0.0.1 is not a subdomain of vault.azure.net (reference/azure-standins.md §3). Its secret
 * versions can be saved (`snapshot`) and given back (`restore`), so a restarted persistent stack serves the
 * secrets a rotation left, under the same version ids.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { createLocalJWKSet, type JSONWebKeySet, errors as joseErrors, jwtVerify } from 'jose';
import { closeServer, listen, RouteCounter, readBody, safeHandler, sendJson } from './httpUtil.js';

export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';

export interface KeyVaultStandInOptions {
  tls: { cert: string; key: string };
  /** Keys that sign acceptable tokens (the identity stand-in's `jwks`). */
  jwks: JSONWebKeySet;
  /** Tenant named in the challenge. */
  tenantId: string;
  /** Secrets present at startup (ignored when `restore` is given). */
  secrets?: Record<string, string>;
  /** Secret versions saved by an earlier run (`snapshot()`), oldest first per name. */
  restore?: Record<string, SecretVersion[]>;
  /** Called after a secret is stored; awaited before a PUT is answered. */
  onStateChange?: () => Promise<void>;
  /** When set, only tokens whose `oid` is listed may read or write (403 ForbiddenByRbac otherwise). */
  allowedObjectIds?: string[];
  port?: number;
}

export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  created: number;
}

export interface KeyVaultRequest {
  method: string;
  path: string;
  status: number;
  oid?: string;
}

export interface KeyVaultStandIn {
  /** `https://127.0.0.1:<p>`: the value for KEY_VAULT_URL. */
  url: string;
  /** Stores a new current version; returns its version id. */
  setSecret(
    name: string,
    value: string,
    extra?: { contentType?: string; tags?: Record<string, string> },
  ): SecretVersion;
  /** Versions oldest first (for assertions; values included, so never log the result). */
  versions(name: string): SecretVersion[];
  /** Every secret's versions, to save for a later `restore` (values included: local stand-in secrets only). */
  snapshot(): Record<string, SecretVersion[]>;
  /** Requests per route: challenge, get, put, unauthorized, forbidden, not-found. */
  counts(): Record<string, number>;
  requests(): KeyVaultRequest[];
  resetCounts(): void;
  close(): Promise<void>;
}

const NAME = /^[0-9a-zA-Z-]{1,127}$/;

const SECRET_NOT_FOUND_HINT =
  'If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182';

/** The secret versions by name, oldest first. */
class SecretStore {
  readonly #versions: Map<string, SecretVersion[]>;

  constructor(restore: Record<string, SecretVersion[]> | undefined) {
    this.#versions = new Map(Object.entries(structuredClone(restore ?? {})));
  }

  /** Stores a new current version of `name`; throws on a name Key Vault would refuse. */
  put(
    name: string,
    value: string,
    extra: { contentType?: string; tags?: Record<string, string> } = {},
  ): SecretVersion {
    if (!NAME.test(name)) {
      throw new Error(
        `Key Vault stand-in: secret name '${name}' is invalid; use 1-127 letters, digits and dashes`,
      );
    }
    const v: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value,
      created: Math.floor(Date.now() / 1000),
      ...extra,
    };
    this.#versions.set(name, [...(this.#versions.get(name) ?? []), v]);
    return v;
  }

  /** The named version, or the current one when `version` is empty. */
  find(name: string, version: string): SecretVersion | undefined {
    const versions = this.#versions.get(name);
    return versions && (version ? versions.find((x) => x.version === version) : versions.at(-1));
  }

  versions(name: string): SecretVersion[] {
    return [...(this.#versions.get(name) ?? [])];
  }

  snapshot(): Record<string, SecretVersion[]> {
    return structuredClone(Object.fromEntries(this.#versions));
  }
}

/** What every request of one vault shares. */
interface VaultState {
  store: SecretStore;
  keySet: ReturnType<typeof createLocalJWKSet>;
  allowedObjectIds?: string[];
  /** The 401 challenge header naming tenant and resource. */
  challenge: Record<string, string>;
  counter: RouteCounter;
  log: KeyVaultRequest[];
  /** `https://127.0.0.1:<p>`, set once the server listens. */
  base: string;
  /** Saves the state; reports a failure rather than throwing it. */
  stateChanged(): Promise<void>;
}

export async function startKeyVault(options: KeyVaultStandInOptions): Promise<KeyVaultStandIn> {
  const vault: VaultState = {
    store: new SecretStore(options.restore),
    keySet: createLocalJWKSet(options.jwks),
    allowedObjectIds: options.allowedObjectIds,
    challenge: {
      'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${options.tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
    },
    counter: new RouteCounter(),
    log: [],
    base: '',
    stateChanged: () => reportStateChange(options.onStateChange),
  };
  if (!options.restore) {
    for (const [name, value] of Object.entries(options.secrets ?? {})) vault.store.put(name, value);
  }

  const server = https.createServer(
    { cert: options.tls.cert, key: options.tls.key },
    safeHandler('key vault', (req, res) => handleVaultRequest(vault, req, res)),
  );
  const port = await listen(server, options.port);
  vault.base = `https://127.0.0.1:${port}`;

  return {
    url: vault.base,
    setSecret: (name, value, extra) => {
      const v = vault.store.put(name, value, extra);
      void vault.stateChanged();
      return v;
    },
    versions: (name) => vault.store.versions(name),
    snapshot: () => vault.store.snapshot(),
    counts: () => vault.counter.snapshot(),
    requests: () => [...vault.log],
    resetCounts: () => {
      vault.counter.reset();
      vault.log.length = 0;
    },
    close: () => closeServer(server),
  };
}

async function reportStateChange(onStateChange: (() => Promise<void>) | undefined): Promise<void> {
  try {
    await onStateChange?.();
  } catch (err) {
    console.error(
      `[key vault] could not save its state: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Records one answered request of a known caller under `route` (see `counts()`). */
type Answered = (route: string, status: number) => void;

/** Admin counts, then authentication and RBAC, then the secret routes (GET and PUT). */
async function handleVaultRequest(
  vault: VaultState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', vault.base);
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const body = await readBody(req);
  const done = (route: string, status: number, oid?: string): void => {
    vault.counter.hit(route);
    vault.log.push({ method, path, status, oid });
    if (vault.log.length > 1000) vault.log.shift();
  };

  if (path === '/_admin/counts' && method === 'GET') return sendJson(res, 200, vault.counter.snapshot());

  const auth = await authenticate(vault.keySet, req.headers.authorization);
  if ('problem' in auth) {
    // A request without a token is the SDK's challenge probe; a bad token is a real failure.
    done(req.headers.authorization ? 'unauthorized' : 'challenge', 401);
    return sendJson(res, 401, { error: { code: 'Unauthorized', message: auth.problem } }, vault.challenge);
  }
  if (vault.allowedObjectIds && !vault.allowedObjectIds.includes(auth.oid)) {
    done('forbidden', 403, auth.oid);
    return sendJson(res, 403, {
      error: {
        code: 'Forbidden',
        message: `Caller is not authorized to perform action on resource. Caller: oid=${auth.oid}. Grant the identity the 'Key Vault Secrets User' role.`,
        innererror: { code: 'ForbiddenByRbac' },
      },
    });
  }

  // The SDK sends /secrets/{name}/ (trailing slash) when no version is given.
  const m = path.match(/^\/secrets\/([^/]+)(?:\/([^/]*))?\/?$/);
  if (!m) {
    done('not-found', 404, auth.oid);
    return sendJson(res, 404, {
      error: { code: 'NotFound', message: `No route for ${method} ${path}.` },
    });
  }
  const name = decodeURIComponent(m[1]!);
  const version = m[2] ? decodeURIComponent(m[2]) : '';
  const answered: Answered = (route, status) => done(route, status, auth.oid);
  if (method === 'PUT' && !version) return putSecret(vault, res, name, body, answered);
  if (method === 'GET') return getSecret(vault, res, name, version, answered);
  answered('not-found', 405);
  return sendJson(res, 405, {
    error: { code: 'MethodNotAllowed', message: `${method} is not served locally.` },
  });
}

/** PUT /secrets/{name}: a new current version, answered once it is saved. */
async function putSecret(
  vault: VaultState,
  res: ServerResponse,
  name: string,
  body: string,
  done: Answered,
): Promise<void> {
  let parsed: { value?: unknown; contentType?: string; tags?: Record<string, string> };
  try {
    parsed = JSON.parse(body || '{}');
  } catch {
    done('bad-request', 400);
    return sendJson(res, 400, {
      error: { code: 'BadParameter', message: 'Request body is not valid JSON.' },
    });
  }
  if (typeof parsed.value !== 'string' || !NAME.test(name)) {
    done('bad-request', 400);
    return sendJson(res, 400, {
      error: { code: 'BadParameter', message: 'A secret needs a valid name and a string value.' },
    });
  }
  const v = vault.store.put(name, parsed.value, { contentType: parsed.contentType, tags: parsed.tags });
  await vault.stateChanged();
  done('put', 200);
  return sendJson(res, 200, secretBundle(vault.base, name, v));
}

/** GET /secrets/{name}/{version?}: the named version or the current one. */
function getSecret(
  vault: VaultState,
  res: ServerResponse,
  name: string,
  version: string,
  done: Answered,
): void {
  const v = vault.store.find(name, version);
  if (!v) {
    done('not-found', 404);
    sendJson(res, 404, {
      error: {
        code: 'SecretNotFound',
        message: `A secret with (name/id) ${version ? `${name}/${version}` : name} was not found in this key vault. ${SECRET_NOT_FOUND_HINT}`,
      },
    });
    return;
  }
  done('get', 200);
  sendJson(res, 200, secretBundle(vault.base, name, v));
}

/** Key Vault's SecretBundle for one version. */
function secretBundle(base: string, name: string, v: SecretVersion) {
  return {
    value: v.value,
    id: `${base}/secrets/${name}/${v.version}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    ...(v.tags ? { tags: v.tags } : {}),
    attributes: {
      enabled: true,
      created: v.created,
      updated: v.created,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
  };
}

/** Returns the caller's oid, or a message saying why the token is not acceptable (as Key Vault checks it). */
async function authenticate(
  keySet: VaultState['keySet'],
  header: string | undefined,
): Promise<{ oid: string } | { problem: string }> {
  if (!header?.startsWith('Bearer '))
    return { problem: 'AKV10000: Request is missing a Bearer or PoP token.' };
  try {
    const { payload } = await jwtVerify(header.slice('Bearer '.length), keySet, {
      audience: [KEY_VAULT_RESOURCE, `${KEY_VAULT_RESOURCE}/`],
      algorithms: ['RS256'],
    });
    if (typeof payload.iss !== 'string' || !payload.iss.startsWith('https://sts.windows.net/')) {
      return {
        problem: `Invalid issuer '${String(payload.iss)}'; expected https://sts.windows.net/<tenant>/.`,
      };
    }
    return { oid: typeof payload.oid === 'string' ? payload.oid : '' };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { problem: 'Token is expired; acquire a new token.' };
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') {
      return { problem: `Invalid audience; expected ${KEY_VAULT_RESOURCE}.` };
    }
    return { problem: `Token validation failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
