/**
 * Where a match's documents go in the outbox, and which run of an input name is its latest.
 *
 * Every input name (an inbox blob or a file already in PDG storage) has a *name key*: its folders and its stem
 * in any script, reduced to letters, marks, digits, `.`, `_` and `-`, bounded in length, followed by `-` and
 * the first 12 hex digits of SHA-256 over the source kind and the exact name (`inbox` NUL name). The readable
 * part is lossy, the hash is not, so two different names never share a key (up to a 48-bit hash collision
 * between names that also read the same). Each run writes only under `<name key>/<run>/`, where the run is
 * its instance id, so no run can overwrite another run's documents; `<name key>/latest.json` names the newest
 * run, and is only ever moved forward in (requestedAt, run) order, with a conditional write. Pure: the
 * conditional write itself is in shared/outbox.ts.
 */
import { createHash } from 'node:crypto';
import type { MatchOutputs, MatchSource, OutboxLocation } from './types.js';

/** Hex digits of the name hash in a name key (48 bits). */
export const NAME_HASH_HEX_CHARS = 12;
/** Longest readable stem, and longest folder segment, in UTF-16 code units. */
export const MAX_SEGMENT_CHARS = 64;
/** Longest run of readable folders (joined with `/`) kept in front of the stem; deeper folders are dropped. */
export const MAX_FOLDERS_CHARS = 128;
/** The longest name key there can be: folders, `/`, stem, `-`, hash. */
export const MAX_NAME_KEY_CHARS = MAX_FOLDERS_CHARS + 1 + MAX_SEGMENT_CHARS + 1 + NAME_HASH_HEX_CHARS;

/** The newest run of a name, at `<name key>/latest.json`. */
export const LATEST_DOCUMENT = 'latest.json';

export type SourceKind = MatchSource['kind'];

/** Everything but letters, combining marks, digits (any script), `.`, `_` and `-` becomes one `-`. */
const UNREADABLE = /[^\p{L}\p{M}\p{N}._-]+/gu;
/** Dots and dashes at either end are dropped, so no segment is `.`, `..` or starts like an option. */
const EDGE_DOTS_AND_DASHES = /^[.-]+|[.-]+$/g;
/** Instance ids already fit for a folder name (every id gem-flow derives does). */
const FOLDER_SAFE_RUN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$/;

/**
 * UTF-8, except that a lone surrogate is encoded as its own three bytes (WTF-8) instead of as U+FFFD, so
 * distinct JavaScript strings always give distinct bytes. `Buffer.from(text)` would map every lone surrogate
 * to the same replacement character, and with it distinct names to one hash.
 */
export function wtf8(text: string): Buffer {
  const bytes: number[] = [];
  for (const char of text) {
    const cp = char.codePointAt(0) ?? 0;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      bytes.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 0x3f),
        0x80 | ((cp >> 6) & 0x3f),
        0x80 | (cp & 0x3f),
      );
  }
  return Buffer.from(bytes);
}

/** `printf '<kind>\0%s' "$name" | sha256sum | cut -c1-12`: the kind has no NUL, so the split is unambiguous. */
export function nameHash(kind: SourceKind, name: string): string {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${kind}\u0000`), wtf8(name)]))
    .digest('hex')
    .slice(0, NAME_HASH_HEX_CHARS);
}

/** At most `max` UTF-16 code units, never splitting a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const char of text) {
    if (kept.length + char.length > max) break;
    kept += char;
  }
  return kept;
}

function readableSegment(segment: string): string {
  const cleaned = segment.normalize('NFC').replace(UNREADABLE, '-').replace(EDGE_DOTS_AND_DASHES, '');
  return truncate(cleaned, MAX_SEGMENT_CHARS).replace(EDGE_DOTS_AND_DASHES, '');
}

/** Leading folders while they fit in `MAX_FOLDERS_CHARS`; the hash still tells apart names that differ deeper. */
function boundedFolders(folders: readonly string[]): string[] {
  const kept: string[] = [];
  let used = 0;
  for (const folder of folders) {
    if (used + folder.length + 1 > MAX_FOLDERS_CHARS + 1) break;
    kept.push(folder);
    used += folder.length + 1;
  }
  return kept;
}

/**
 * The name key of an input name: `roads/2026/my roads (v2).parquet` → `roads/2026/my-roads-v2-<12 hex>`,
 * `路线.parquet` → `路线-<12 hex>`. Folders stay folders (`/` and `\` both separate them); empty, `.` and `..`
 * segments are dropped, so no key climbs out of the outbox; the last extension is dropped from the stem.
 */
export function nameKeyFor(kind: SourceKind, name: string): string {
  const raw = name.split(/[\\/]+/);
  const last = raw.pop() ?? '';
  const dot = last.lastIndexOf('.');
  const stem = readableSegment(dot > 0 ? last.slice(0, dot) : last) || 'input';
  const folders = boundedFolders(raw.map(readableSegment).filter((segment) => segment !== ''));
  return [...folders, `${stem}-${nameHash(kind, name)}`].join('/');
}

export function nameKeyOfSource(source: MatchSource): string {
  // String(): an instance started by hand may carry a malformed source; it still gets a key, and its
  // activities report what is wrong with the source itself.
  return nameKeyFor(source.kind, String(source.kind === 'inbox' ? source.blobName : source.filename));
}

/** The run's folder: its instance id, so the folder leads straight to `GET /api/matches/{id}`. */
export function runFolderFor(instanceId: string): string {
  if (FOLDER_SAFE_RUN.test(instanceId)) return instanceId;
  // An instance started by hand may have any id; it still gets a folder of its own.
  return `run-${createHash('sha256').update(wtf8(instanceId)).digest('hex').slice(0, 32)}`;
}

export function outboxLocationFor(source: MatchSource, instanceId: string): OutboxLocation {
  return { nameKey: nameKeyOfSource(source), run: runFolderFor(instanceId) };
}

/** A run's documents: `<name key>/<run>/results.parquet`, `summary.json`, `error.json`, `validation.json`. */
export function outboxBlobNames(location: OutboxLocation): Required<Omit<MatchOutputs, 'matched'>> {
  const folder = `${location.nameKey}/${location.run}`;
  return {
    results: `${folder}/results.parquet`,
    summary: `${folder}/summary.json`,
    error: `${folder}/error.json`,
    validationReport: `${folder}/validation.json`,
  };
}

/** The run's enriched output: `<name key>/<run>/matched.<ext>`, the extension of its format. */
export function matchedBlobName(location: OutboxLocation, extension: string): string {
  return `${location.nameKey}/${location.run}/matched.${extension}`;
}

export function latestBlobName(nameKey: string): string {
  return `${nameKey}/${LATEST_DOCUMENT}`;
}

/** How a run ended, as `latest.json` records it; `rejected` is an upload whose options could not be resolved. */
export type LatestOutcome =
  | 'succeeded'
  | 'gem-failed'
  | 'timed-out'
  | 'failed'
  | 'invalid-input'
  | 'rejected';

/** `<name key>/latest.json`: the newest run of a name and where its documents are. */
export interface LatestRunDocument {
  kind: 'gem-flow.latest-run';
  version: 1;
  source: MatchSource;
  /** The run's folder under the name key (its instance id, or `rejected-…` for a rejected upload). */
  run: string;
  /** When the run was requested: what orders runs of one name. */
  requestedAt: string;
  outcome: LatestOutcome;
  outputs: MatchOutputs;
}

export interface RunOrder {
  requestedAt: string;
  run: string;
}

function instantOf(iso: unknown): number {
  const ms = typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/**
 * Runs of one name in the order both agree on, whichever finishes first: the instant each was requested (fixed
 * in its orchestration input), then the run folder to break a tie. Never the clock at the time of writing.
 */
export function compareRuns(a: RunOrder, b: RunOrder): number {
  const difference = instantOf(a.requestedAt) - instantOf(b.requestedAt);
  if (difference !== 0 && !Number.isNaN(difference)) return difference < 0 ? -1 : 1;
  if (a.run === b.run) return 0;
  return a.run < b.run ? -1 : 1;
}

/** True when `existing` (a parsed latest.json, or anything found there) names a run newer than `candidate`. */
export function isNewerRun(existing: unknown, candidate: RunOrder): boolean {
  if (typeof existing !== 'object' || existing === null) return false;
  const { requestedAt, run } = existing as Partial<RunOrder>;
  if (typeof run !== 'string') return false;
  return compareRuns({ requestedAt: String(requestedAt), run }, candidate) > 0;
}
