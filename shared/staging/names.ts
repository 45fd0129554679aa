/**
 * Content-derived blob names: `roads.parquet` with sha256 3f2a9c1e7b4d… becomes `roads.3f2a9c1e7b4d.parquet`.
 * The same bytes always get the same name, so staging twice is a no-op and different files with the
 * same original name never overwrite each other (or a job GEM is still reading).
 */

const HASH_CHARS = 12; // 48 bits: collisions need ~16 million files of the same stem in one storage.
const SHA256_HEX = /^[0-9a-f]{64}$/i;
const MAX_STEM = 120;

function sanitize(part: string): string {
  // Blob names allow almost anything, but az CLI, URLs and GEM's filename field are easier with plain ASCII.
  return part
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
}

/** `<stem>.<first 12 hex of sha256><.ext>`, blob-safe; idempotent when given a name it produced. */
export function contentDerivedName(originalName: string, sha256Hex: string): string {
  if (!SHA256_HEX.test(sha256Hex)) throw new TypeError('sha256Hex must be 64 hexadecimal characters');
  const short = sha256Hex.slice(0, HASH_CHARS).toLowerCase();
  const base = originalName.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  const hasExt = dot > 0 && dot < base.length - 1;
  const rawExt = hasExt ? base.slice(dot + 1) : '';
  let stem = sanitize(hasExt ? base.slice(0, dot) : base);
  if (stem.toLowerCase().endsWith(`.${short}`)) stem = stem.slice(0, -(HASH_CHARS + 1));
  stem = stem.slice(0, MAX_STEM).replace(/[-.]+$/, '') || 'input';
  const ext = sanitize(rawExt).toLowerCase();
  return ext ? `${stem}.${short}.${ext}` : `${stem}.${short}`;
}
