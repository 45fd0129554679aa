/**
 * The identity stand-in's managed-identity endpoint: App Service's IDENTITY_ENDPOINT (api-version 2019-08-01,
 * secured by the X-IDENTITY-HEADER secret) and the IMDS shape (`Metadata: true`) for
 * AZURE_POD_IDENTITY_AUTHORITY_HOST. A request names its identity by client id, object id or ARM resource id,
 * or none for the system-assigned one; the token served is the one cached for that identity and resource,
 * as Azure's endpoint does, until it nears expiry.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { sendJson } from './httpUtil.js';
import { baseClaims, deriveObjectId, type RequestRecorder, type TokenSigner } from './identityTokens.js';

export interface ManagedIdentity {
  clientId: string;
  objectId: string;
  /** ARM resource id, matched against the `mi_res_id` query parameter. */
  resourceId?: string;
}

/** A managed identity as callers describe it: a missing objectId is derived from the client id. */
export type ManagedIdentityInput = Omit<ManagedIdentity, 'objectId'> & { objectId?: string };

export interface ManagedIdentityConfig {
  tenantId: string;
  /** Secret expected in X-IDENTITY-HEADER. */
  identityHeader: string;
  tokenLifetimeSec: number;
  /** Used when a request names no identity. */
  systemAssigned: ManagedIdentity;
  /** Reissue a cached token when less than this many seconds of it remain. */
  reissueWhenLeftSec: number;
}

interface CachedToken {
  accessToken: string;
  claims: JWTPayload;
}

/** The identity a request names, or 'unknown' when it names one that does not exist. */
type Lookup = ManagedIdentity | 'unknown';

export class ManagedIdentityEndpoint {
  /** User-assigned identities by client id. */
  readonly #identities = new Map<string, ManagedIdentity>();
  /** Tokens by `${clientId}\0${resource}`. */
  readonly #cache = new Map<string, CachedToken>();

  constructor(
    private readonly config: ManagedIdentityConfig,
    private readonly signer: TokenSigner,
    private readonly recorder: RequestRecorder,
  ) {}

  add(mi: ManagedIdentityInput): ManagedIdentity {
    const full: ManagedIdentity = { ...mi, objectId: mi.objectId ?? deriveObjectId(mi.clientId) };
    this.#identities.set(full.clientId, full);
    return full;
  }

  /** GET /msi/token (`imds` false) or /metadata/identity/oauth2/token (`imds` true). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, imds: boolean): Promise<void> {
    const endpoint = imds ? 'imds' : 'mi';
    const resource = url.searchParams.get('resource') ?? undefined;
    const authorized = imds
      ? req.headers.metadata === 'true'
      : req.headers['x-identity-header'] === this.config.identityHeader;
    if (!authorized) {
      this.recorder.record({ endpoint, status: 400, resource });
      return sendJson(res, 400, {
        statusCode: 400,
        message: imds
          ? 'Required metadata header not specified'
          : 'The X-IDENTITY-HEADER request header is missing or does not match IDENTITY_HEADER.',
      });
    }
    if (!resource) {
      this.recorder.record({ endpoint, status: 400 });
      return sendJson(res, 400, { statusCode: 400, message: 'The resource query parameter is required.' });
    }
    const mi = this.#find(url);
    if (mi === 'unknown') {
      const clientId = url.searchParams.get('client_id') ?? undefined;
      this.recorder.record({ endpoint, status: 400, resource, clientId });
      return sendJson(res, 400, {
        statusCode: 400,
        message: 'No Managed Identity found for specified ClientId/ResourceId/PrincipalId.',
        correlationId: randomUUID(),
      });
    }
    const { accessToken, claims } = await this.#cachedToken(mi, resource);
    this.recorder.record({ endpoint, status: 200, resource, clientId: mi.clientId });
    return sendJson(res, 200, this.#tokenResponse(mi, resource, accessToken, claims, imds));
  }

  #find(url: URL): Lookup {
    const clientId = url.searchParams.get('client_id');
    const objectId = url.searchParams.get('object_id') ?? url.searchParams.get('principal_id');
    const resId = url.searchParams.get('mi_res_id') ?? url.searchParams.get('msi_res_id');
    const { systemAssigned } = this.config;
    if (!clientId && !objectId && !resId) return systemAssigned;
    const all = [systemAssigned, ...this.#identities.values()];
    const found = all.find(
      (mi) =>
        (clientId !== null && mi.clientId === clientId) ||
        (objectId !== null && mi.objectId === objectId) ||
        (resId !== null &&
          mi.resourceId !== undefined &&
          mi.resourceId.toLowerCase() === resId.toLowerCase()),
    );
    return found ?? 'unknown';
  }

  async #cachedToken(mi: ManagedIdentity, resource: string): Promise<CachedToken> {
    const key = `${mi.clientId}\u0000${resource}`;
    const cached = this.#cache.get(key);
    if (cached && (cached.claims.exp ?? 0) - Date.now() / 1000 > this.config.reissueWhenLeftSec) {
      return cached;
    }
    const { tenantId, tokenLifetimeSec } = this.config;
    const claims = baseClaims(resource, tenantId, mi.objectId, mi.clientId, tokenLifetimeSec);
    const fresh = { accessToken: await this.signer.sign(claims), claims };
    this.#cache.set(key, fresh);
    return fresh;
  }

  /** App Service's body; IMDS adds expires_in, ext_expires_in and not_before. */
  #tokenResponse(
    mi: ManagedIdentity,
    resource: string,
    accessToken: string,
    claims: JWTPayload,
    imds: boolean,
  ): Record<string, unknown> {
    const lifetime = String(this.config.tokenLifetimeSec);
    return {
      access_token: accessToken,
      expires_on: String(claims.exp),
      resource,
      token_type: 'Bearer',
      client_id: mi.clientId,
      ...(imds ? { expires_in: lifetime, ext_expires_in: lifetime, not_before: String(claims.nbf) } : {}),
    };
  }
}
