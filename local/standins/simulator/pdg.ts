// Private Data Gateway handlers: list storages, get one storage (with its files), and mint wrapped
// credentials. Storage visibility follows the caller's token `oid` (allowedObjectIds).
import type { Caller } from './auth.js';
import type { BlobStore } from './blobs.js';
import { badRequest, forbidden, json, notFound, type SimResponse } from './responses.js';
import type { PdgVariant } from './router.js';
import type { StorageConfig } from './types.js';
import { CREDENTIAL_TYPES, type CredentialType, type WrappedTokenStore } from './vault.js';

export interface PdgDeps {
  storages: ReadonlyMap<string, StorageConfig>;
  blobs: BlobStore;
  wrapped: WrappedTokenStore;
  /** ISO creation time reported for every configured storage. */
  createdAt: string;
  now: () => number;
}

export const mayUse = (storage: StorageConfig, caller: Caller) =>
  storage.allowedObjectIds.includes(caller.oid);

export const storageForbidden = (id: string) =>
  forbidden(
    `The user is not authorized to access storage '${id}'. Ask your organisation's administrator for access.`,
  );

/** 404 for an unknown storage, 403 when the caller may not use it, else the storage. */
export function resolveStorage(deps: PdgDeps, id: string, caller: Caller): StorageConfig | SimResponse {
  const storage = deps.storages.get(id);
  if (!storage) return notFound(`Storage '${id}' was not found.`);
  if (!mayUse(storage, caller)) return storageForbidden(id);
  return storage;
}

const isResponse = (v: StorageConfig | SimResponse): v is SimResponse => 'status' in v;

export function listStorages(deps: PdgDeps, caller: Caller): SimResponse {
  const storages = [...deps.storages.values()]
    .filter((s) => mayUse(s, caller))
    .map((s) => ({ id: s.id, name: s.name, createdAt: deps.createdAt }));
  return json(200, { storages });
}

export async function getStorage(deps: PdgDeps, id: string, caller: Caller): Promise<SimResponse> {
  const storage = resolveStorage(deps, id, caller);
  if (isResponse(storage)) return storage;
  const files = await deps.blobs.list(storage.id);
  const latest = files
    .map((f) => f.uploadedAt)
    .sort()
    .at(-1);
  return json(200, {
    id: storage.id,
    name: storage.name,
    description: `PDG storage ${storage.name}`,
    region: storage.region ?? 'eu-west',
    createdAt: deps.createdAt,
    modifiedAt: latest && latest > deps.createdAt ? latest : deps.createdAt,
    files,
  });
}

export function getCredentials(
  deps: PdgDeps,
  id: string,
  type: string | null,
  variant: PdgVariant,
  caller: Caller,
): SimResponse {
  if (!type || !CREDENTIAL_TYPES.includes(type as CredentialType)) {
    return badRequest(
      type ? `Query parameter 'type' has an invalid value '${type}'.` : "Query parameter 'type' is required.",
      [{ field: 'type', reason: `must be one of ${CREDENTIAL_TYPES.join(', ')}` }],
    );
  }
  const storage = resolveStorage(deps, id, caller);
  if (isResponse(storage)) return storage;
  const token = deps.wrapped.issue(storage.id, type as CredentialType, deps.now());
  // The docs conflict: private-gateway pages show a JSON object, the pdg page a bare token.
  return variant === 'pdg' ? { status: 200, body: token } : json(200, { credentials: token });
}
