/**
 * Which rows of the current prepared file GEM must see again: a merge walk over the previous and the current
 * fingerprint (both sorted by id digest) classifies every row as unchanged (same id, same content), changed
 * (same id, other content), new (id not in the previous file) or deleted (id only in the previous file).
 *
 * Ids are paired by their 64-bit digest, not compared as text. Within one file two ids sharing a digest are
 * detected (`collisions`) and the plan falls back to a full re-match. Across the two files, an id of the
 * current file pairing with a different id of the previous one could at worst call a row "changed" (it is
 * re-matched: harmless) or, only if the 64-bit content digests of two different rows also collide, "unchanged"
 * (a chance of about n / 2¹²⁸). Carried results are selected by the digests of unchanged ids, and a previous
 * row sharing an unchanged id's digest would have been a collision inside the previous file, which is refused.
 */
import type { Fingerprint } from './fingerprint.js';

export const ROW_UNCHANGED = 0;
export const ROW_CHANGED = 1;
export const ROW_NEW = 2;

export interface RowCounts {
  unchanged: number;
  changed: number;
  new: number;
  deleted: number;
}

export interface Classification {
  counts: RowCounts;
  /** Per row of the current file, in file order: ROW_UNCHANGED, ROW_CHANGED or ROW_NEW. */
  rowClass: Uint8Array;
  /** Id digests of the unchanged rows, ascending: whose previous results are carried over. */
  unchangedIds: BigUint64Array;
}

/** Classifies the current file's rows against the previous file's; both fingerprints free of collisions. */
export function classifyRows(previous: Fingerprint, current: Fingerprint): Classification {
  const rows = current.rows;
  if (!rows) throw new Error('the current fingerprint needs its row positions');
  if (previous.collisions > 0 || current.collisions > 0) {
    throw new Error('fingerprints with colliding id digests cannot be classified');
  }
  const counts: RowCounts = { unchanged: 0, changed: 0, new: 0, deleted: 0 };
  const rowClass = new Uint8Array(current.ids.length).fill(ROW_NEW);
  const unchangedIds = new BigUint64Array(Math.min(previous.ids.length, current.ids.length));
  let i = 0;
  let j = 0;
  while (i < previous.ids.length || j < current.ids.length) {
    const before = i < previous.ids.length ? previous.ids[i]! : undefined;
    const now = j < current.ids.length ? current.ids[j]! : undefined;
    if (now === undefined || (before !== undefined && before < now)) {
      counts.deleted++;
      i++;
    } else if (before === undefined || now < before) {
      counts.new++;
      j++;
    } else if (previous.contents[i] === current.contents[j]) {
      rowClass[rows[j]!] = ROW_UNCHANGED;
      unchangedIds[counts.unchanged++] = now;
      i++;
      j++;
    } else {
      rowClass[rows[j]!] = ROW_CHANGED;
      counts.changed++;
      i++;
      j++;
    }
  }
  return { counts, rowClass, unchangedIds: unchangedIds.subarray(0, counts.unchanged) };
}
