/**
 * The identity stand-in's Entra v2 endpoints per tenant: OIDC discovery (metadata), the JWKS, and the token
 * endpoint's client-credentials flow for the service principals registered here. They are served on https,
 * because @azure/identity refuses an http authority host, and the discovery document is built from the
 * request's origin, since MSAL requires the issuer to share the authority's origin. Errors carry Entra's
 * AADSTS codes and body shape, so MSAL reports them as it would in Azure.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './httpUtil.js';
import { baseClaims, deriveObjectId, type RequestRecorder, type TokenSigner } from './identityTokens.js';

export interface ServicePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  objectId: string;
}

/** A service principal as callers describe it: a missing objectId is derived from tenant and client id. */
export type ServicePrincipalInput = Omit<ServicePrincipal, 'objectId'> & { objectId?: string };

/** Why a client-credentials request is refused: Entra's status, error, AADSTS code and description. */
interface EntraRefusal {
  status: number;
  error: string;
  code: number;
  description: string;
}

const DISCOVERY_PATH = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/;
const TOKEN_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;
const KEYS_PATH = /^\/([^/]+)\/discovery\/v2\.0\/keys$/;

export class EntraEndpoints {
  /** Registered principals by `${tenant lower-case}/${clientId}`. */
  readonly #principals = new Map<string, ServicePrincipal>();

  constructor(
    private readonly tokenLifetimeSec: number,
    private readonly signer: TokenSigner,
    private readonly recorder: RequestRecorder,
  ) {}

  addServicePrincipal(sp: ServicePrincipalInput): ServicePrincipal {
    const full: ServicePrincipal = {
      ...sp,
      objectId: sp.objectId ?? deriveObjectId(`${sp.tenantId}/${sp.clientId}`),
    };
    this.#principals.set(`${full.tenantId.toLowerCase()}/${full.clientId}`, full);
    return full;
  }

  /** Answers an Entra route and returns true, or returns false when `path` is none of them. */
  async route(req: IncomingMessage, res: ServerResponse, path: string, origin: string): Promise<boolean> {
    let m = path.match(DISCOVERY_PATH);
    if (req.method === 'GET' && m) {
      this.#openIdConfiguration(res, origin, m[1]!);
      return true;
    }
    m = path.match(TOKEN_PATH);
    if (req.method === 'POST' && m) {
      await this.#clientCredentialsToken(req, res, m[1]!);
      return true;
    }
    m = path.match(KEYS_PATH);
    if (req.method === 'GET' && m) {
      this.recorder.record({ endpoint: 'jwks', status: 200, tenantId: m[1] });
      sendJson(res, 200, this.signer.jwks);
      return true;
    }
    return false;
  }

  #openIdConfiguration(res: ServerResponse, origin: string, tenant: string): void {
    this.recorder.record({ endpoint: 'openid-configuration', status: 200, tenantId: tenant });
    sendJson(res, 200, {
      issuer: `${origin}/${tenant}/v2.0`,
      token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
      authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
      jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      id_token_signing_alg_values_supported: ['RS256'],
      tenant_region_scope: 'EU',
    });
  }

  async #clientCredentialsToken(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    // MSAL also sends x-client-*, client-request-id and, for CAE, a `claims` JSON: all accepted and ignored.
    const clientId = form.get('client_id') ?? '';
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const scope = scopes.find((s) => s.endsWith('/.default'));
    const resource = scope?.slice(0, -'/.default'.length);
    const entry = { endpoint: 'token', tenantId: tenant, clientId, resource };
    const checked = this.#checkClientCredentials(form, tenant, clientId, resource);
    if ('status' in checked) {
      this.recorder.record({ ...entry, status: checked.status });
      return entraError(res, checked);
    }
    const { principal } = checked;
    const claims = baseClaims(
      checked.resource,
      principal.tenantId,
      principal.objectId,
      principal.clientId,
      this.tokenLifetimeSec,
    );
    const accessToken = await this.signer.sign(claims);
    this.recorder.record({ ...entry, status: 200 });
    return sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: this.tokenLifetimeSec,
      ext_expires_in: this.tokenLifetimeSec,
      access_token: accessToken,
    });
  }

  /** Entra's checks in its order: grant type, known client, secret, then a `/.default` scope. */
  #checkClientCredentials(
    form: URLSearchParams,
    tenant: string,
    clientId: string,
    resource: string | undefined,
  ): { principal: ServicePrincipal; resource: string } | EntraRefusal {
    if (form.get('grant_type') !== 'client_credentials') {
      return {
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        description: `The app requested an unsupported grant type '${form.get('grant_type')}'; only client_credentials is served locally.`,
      };
    }
    const principal = this.#principals.get(`${tenant.toLowerCase()}/${clientId}`);
    if (!principal) {
      return {
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        description: `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
      };
    }
    if (form.get('client_secret') !== principal.clientSecret) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      };
    }
    if (!resource) {
      return {
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
        description: `The provided value for scope ${form.get('scope') ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      };
    }
    return { principal, resource };
  }
}

/** Entra's error body: the AADSTS code in `error_codes` and, with trace and correlation ids, in the description. */
function entraError(res: ServerResponse, refusal: EntraRefusal): void {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  sendJson(res, refusal.status, {
    error: refusal.error,
    error_description: `AADSTS${refusal.code}: ${refusal.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${new Date().toISOString()}`,
    error_codes: [refusal.code],
    timestamp: new Date().toISOString(),
    trace_id: traceId,
    correlation_id: correlationId,
  });
}
