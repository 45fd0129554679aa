/**
 * The one etag normaliser. Blob Storage returns etags quoted (`"0x8DC…"`), Event Grid's BlobCreated event
 * carries them bare, and a weak validator may come prefixed `W/`; all name the same version, so every
 * comparison, instance-id hash and recorded etag in the app and the local host goes through this function.
 * It sits on the ground floor of shared/ because staging and workflow, which are peers, both need it.
 */

/** The bare etag: surrounding white space, a `W/` prefix and one pair of enclosing quotes removed. */
export function normaliseEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}
