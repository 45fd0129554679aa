// Redaction for anything the admin API returns or the simulator logs: secrets are shown only by a
// short prefix, enough to tell two keys apart in a test failure, never enough to reuse.

/** 'abcd…(redacted)'; short values (< 8 chars) keep no prefix at all. */
export function redactSecret(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length < 8) return '…(redacted)';
  return `${value.slice(0, 4)}…(redacted)`;
}

const SECRET_HEADERS = new Set(['tomtom-api-key', 'authorization', 'x-vault-token', 'cookie']);

/** Copy of request headers with secret values redacted (bearer tokens keep only the scheme). */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    const lower = name.toLowerCase();
    if (!SECRET_HEADERS.has(lower)) out[lower] = value;
    else if (lower === 'authorization') out[lower] = `${value.split(/\s+/)[0] ?? ''} …(redacted)`;
    else out[lower] = redactSecret(value)!;
  }
  return out;
}
