/**
 * GEM's raw road-matching results, read for the join: one Parquet row per match with `id` (the GEM row id
 * the input gave), `gers`, `confidence` (0–100) and the matched parts `lr_id` / `lr_gers` as text such as
 * `"[0.000, 0.500]"` (see the simulator's `local/standins/simulator/matching.ts` and the results schema in
 * the GEM reference). The text is parsed into numbers here, strictly: a value that is not two finite
 * fractions in brackets is a `GemResultsError` naming the row, the column and the text, never a NaN that
 * would quietly turn into a wrong `match` kind. Rows are indexed by GEM id in a temporary `node:sqlite`
 * database on disk (out of core: memory stays at one Parquet batch and SQLite's page cache, whatever the
 * number of matches), so the join can stream the user's source in its own order and look each road up.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { GemFlowError } from '../errors.js';
import { yieldToEventLoop } from '../eventLoop.js';
import { FormatError } from '../formats/errors.js';
import { openParquet, rowBatches } from '../formats/parquetRows.js';
import { loadSqlite } from '../formats/sqlite.js';
import type { GersMatch, SourceFile } from '../formats/types.js';

/** GEM's results file cannot be joined: a column is missing, or a value is not what GEM documents. */
export class GemResultsError extends GemFlowError {
  readonly code = 'GemResultsUnreadable';
}

const RESULTS_REMEDY =
  'The raw results.parquet is delivered unchanged; check it (and GEM job statistics) and report the value to TomTom if GEM wrote it.';

/** A matched part as fractions of a line's length; `from > to` is kept as GEM gave it (a reversed match). */
export interface LinearRange {
  from: number;
  to: number;
}

/** `[<number>, <number>]`, spaces allowed anywhere around the numbers; a JSON-style number each. */
const RANGE_TEXT =
  /^\s*\[\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*,\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*\]\s*$/;
/** Fractions a little outside [0, 1] are rounding (GEM writes 3 decimals); anything further is not a fraction. */
const FRACTION_TOLERANCE = 1e-6;

/**
 * Parses GEM's `lr_id` / `lr_gers` text. Null, undefined and empty text are "no range" (null); anything else
 * must be `[a, b]` with both numbers fractions in [0, 1], or it is a `GemResultsError` saying where.
 */
export function parseLinearRange(value: unknown, where: { row: number; column: string }): LinearRange | null {
  if (value === null || value === undefined) return null;
  const text = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value;
  if (typeof text !== 'string') throw badValue(where, `a ${typeof text}`, 'text "[from, to]"');
  if (text.trim() === '') return null;
  const m = RANGE_TEXT.exec(text);
  if (!m) throw badValue(where, JSON.stringify(text.slice(0, 60)), 'text "[from, to]" with two numbers');
  const from = Number(m[1]);
  const to = Number(m[2]);
  for (const n of [from, to]) {
    if (!(n >= -FRACTION_TOLERANCE && n <= 1 + FRACTION_TOLERANCE)) {
      throw badValue(where, JSON.stringify(text), 'fractions between 0 and 1 of the line length');
    }
  }
  return { from: clampFraction(from), to: clampFraction(to) };
}

function clampFraction(n: number): number {
  return Math.min(1, Math.max(0, n));
}

function badValue(where: { row: number; column: string }, got: string, expected: string): GemResultsError {
  return new GemResultsError(
    `GEM's results row ${where.row}: ${where.column} is ${got}; gem-flow expects ${expected}.`,
    { remedy: RESULTS_REMEDY },
  );
}

function textValue(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return null;
}

/** One results row, parsed and checked. */
export interface ResultRow {
  id: string;
  match: Omit<GersMatch, 'part'>;
}

export function parseResultRow(row: Record<string, unknown>, index: number): ResultRow {
  const id = textValue(row.id);
  if (id === null || id === '') throw badValue({ row: index, column: 'id' }, String(row.id), 'the road id');
  const gers = textValue(row.gers);
  if (gers === null || gers === '')
    throw badValue({ row: index, column: 'gers' }, String(row.gers), 'a GERS id');
  const confidence = typeof row.confidence === 'bigint' ? Number(row.confidence) : row.confidence;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 100)) {
    throw badValue({ row: index, column: 'confidence' }, String(row.confidence), 'a number from 0 to 100');
  }
  const lr = parseLinearRange(row.lr_id, { row: index, column: 'lr_id' });
  const lrGers = parseLinearRange(row.lr_gers, { row: index, column: 'lr_gers' });
  return {
    id,
    match: {
      gers,
      confidence,
      lrFrom: lr?.from ?? null,
      lrTo: lr?.to ?? null,
      gersFrom: lrGers?.from ?? null,
      gersTo: lrGers?.to ?? null,
    },
  };
}

const REQUIRED_COLUMNS = ['id', 'gers', 'confidence'] as const;
const OPTIONAL_COLUMNS = ['lr_id', 'lr_gers'] as const;

/** GEM's matches by GEM row id, in a database file of its own in the scratch directory; `close` deletes it. */
export class MatchIndex {
  private readonly lookupStatement: StatementSync;

  private constructor(
    private readonly db: DatabaseSync,
    private readonly path: string,
    /** Rows read from the results file. */
    readonly rowCount: number,
  ) {
    this.lookupStatement = db.prepare(
      'SELECT gers, confidence, lr_from, lr_to, gers_from, gers_to FROM matches WHERE id = ? ORDER BY seq',
    );
  }

  /** Reads GEM's results Parquet into a new database in `tempDir`. */
  static async build(results: SourceFile, tempDir: string): Promise<MatchIndex> {
    const { DatabaseSync } = await loadSqlite();
    const path = join(tempDir, `gem-matches-${randomUUID()}.sqlite`);
    const db = new DatabaseSync(path);
    try {
      // A scratch index rebuilt on every attempt: durability buys nothing here.
      db.exec('PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;');
      db.exec(
        'CREATE TABLE matches (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, gers TEXT NOT NULL, confidence REAL NOT NULL, ' +
          'lr_from REAL, lr_to REAL, gers_from REAL, gers_to REAL)',
      );
      const rows = await loadRows(db, results);
      db.exec('CREATE INDEX matches_id ON matches (id)');
      return new MatchIndex(db, path, rows);
    } catch (err) {
      db.close();
      rmSync(path, { force: true });
      throw err;
    }
  }

  /** The matches of one GEM row id, in GEM's order. */
  lookup(id: string, part: number): GersMatch[] {
    const found = this.lookupStatement.all(id) as {
      gers: string;
      confidence: number;
      lr_from: number | null;
      lr_to: number | null;
      gers_from: number | null;
      gers_to: number | null;
    }[];
    return found.map((r) => ({
      gers: r.gers,
      confidence: r.confidence,
      lrFrom: r.lr_from,
      lrTo: r.lr_to,
      gersFrom: r.gers_from,
      gersTo: r.gers_to,
      part,
    }));
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
    rmSync(this.path, { force: true });
  }
}

async function loadRows(db: DatabaseSync, results: SourceFile): Promise<number> {
  let parquet: Awaited<ReturnType<typeof openParquet>>;
  try {
    parquet = await openParquet(results, { geoparquet: false, label: "GEM's results file" });
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    throw new GemResultsError(err.message, { cause: err, remedy: RESULTS_REMEDY });
  }
  const names = new Set(parquet.columns.map((c) => c.element.name));
  const missing = REQUIRED_COLUMNS.filter((c) => !names.has(c));
  if (missing.length > 0) {
    throw new GemResultsError(
      `GEM's results file has no ${missing.join(', ')} column (it has ${[...names].join(', ')}).`,
      { remedy: RESULTS_REMEDY },
    );
  }
  const columns = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS.filter((c) => names.has(c))];
  const insert = db.prepare(
    'INSERT INTO matches (id, gers, confidence, lr_from, lr_to, gers_from, gers_to) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  let count = 0;
  for await (const batch of rowBatches(parquet, columns, "GEM's results file")) {
    db.exec('BEGIN');
    try {
      for (let k = 0; k < batch.rows.length; k++) {
        const { id, match } = parseResultRow(batch.rows[k]!, batch.start + k);
        insert.run(id, match.gers, match.confidence, match.lrFrom, match.lrTo, match.gersFrom, match.gersTo);
      }
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
    count += batch.rows.length;
    await yieldToEventLoop();
  }
  return count;
}
