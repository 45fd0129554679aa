// HashiCorp Vault response wrapping, as PDG uses it: GET …/credentials mints a single-use `hvs.`
// token bound to a storage and access type; POST /v1/sys/wrapping/unwrap redeems it once for the
// storage's service-principal secret.
import { randomBytes, randomUUID } from 'node:crypto';
import { json, type SimResponse, vaultError } from './responses.js';
import type { StorageConfig } from './types.js';

export type CredentialType = 'READ_WRITE' | 'READ';
export const CREDENTIAL_TYPES: readonly CredentialType[] = ['READ_WRITE', 'READ'];

interface Wrapped {
  storageId: string;
  type: CredentialType;
  /** Virtual epoch ms after which the token is dead, if a TTL is set. */
  expiresAt?: number;
}

export const INVALID_WRAPPING_TOKEN = 'wrapping token is not valid or does not exist';

export class WrappedTokenStore {
  private readonly tokens = new Map<string, Wrapped>();

  /** ttlMs: virtual lifetime of an unused token; undefined = lives until used (TTL is undocumented). */
  constructor(private readonly ttlMs?: number) {}

  issue(storageId: string, type: CredentialType, nowMs: number): string {
    // Real wrapped tokens look like hvs.CAESI…; the random part carries 192 bits.
    const token = `hvs.CAESI${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, {
      storageId,
      type,
      ...(this.ttlMs !== undefined ? { expiresAt: nowMs + this.ttlMs } : {}),
    });
    return token;
  }

  /** Single use: the token is gone after this call, whether or not it was still valid. */
  redeem(token: string, nowMs: number): Wrapped | undefined {
    const entry = this.tokens.get(token);
    this.tokens.delete(token);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && nowMs > entry.expiresAt) return undefined;
    return entry;
  }

  get size(): number {
    return this.tokens.size;
  }
}

/** The unwrap payload exactly as the pdg-authentication page documents it. */
export function unwrapPayload(storage: StorageConfig) {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: {
      credentials: {
        clientId: storage.servicePrincipal.clientId,
        clientSecret: storage.servicePrincipal.clientSecret,
      },
      id: storage.id,
      tenant_id: storage.servicePrincipal.tenantId,
      url: storage.containerUrl,
    },
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: 'ns_system',
  };
}

/** Token from `X-Vault-Token` or a JSON body `{"token": "…"}` (both are Vault's API). */
export function wrappingTokenFrom(header: string | undefined, rawBody: string): string | undefined {
  if (header?.trim()) return header.trim();
  if (!rawBody.trim()) return undefined;
  try {
    const parsed: unknown = JSON.parse(rawBody);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { token?: unknown }).token === 'string') {
      return (parsed as { token: string }).token;
    }
  } catch {
    // A non-JSON body is simply "no token".
  }
  return undefined;
}

export function handleUnwrap(
  store: WrappedTokenStore,
  storages: ReadonlyMap<string, StorageConfig>,
  header: string | undefined,
  rawBody: string,
  nowMs: number,
): SimResponse {
  const token = wrappingTokenFrom(header, rawBody);
  if (!token) return vaultError(400, 'missing client token');
  const entry = store.redeem(token, nowMs);
  const storage = entry && storages.get(entry.storageId);
  if (!storage) return vaultError(400, INVALID_WRAPPING_TOKEN);
  return json(200, unwrapPayload(storage));
}
