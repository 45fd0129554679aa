/**
 * The columns an enriched output file carries and the values that fill them, shared by the writers so every
 * format names and orders them alike: the user's own fields, then `ENRICHMENT_FIELDS`, then (for formats
 * without a nested or side-table home for them) a `matches` JSON column. A user field that already bears one
 * of those names would be shadowed or duplicated, so it stops the writer with a `FormatError` naming it.
 */
import { FormatError } from './errors.js';
import type { Enrichment, FieldInfo, GersMatch, PropertyValue } from './types.js';
import { ENRICHMENT_FIELDS } from './types.js';

export const MATCHES_FIELD: FieldInfo = { name: 'matches', type: 'json' };

/**
 * The user's fields followed by the enrichment fields (and `matches` when asked), checked for clashes.
 * `reserved` names columns the format itself uses (a GeoPackage's `fid` and `geom`). Names compare without
 * case, as SQLite identifiers and most GIS tools do.
 */
export function outputFields(
  userFields: readonly FieldInfo[],
  options: { matchesColumn: boolean; reserved?: readonly string[] },
): FieldInfo[] {
  const added = options.matchesColumn ? [...ENRICHMENT_FIELDS, MATCHES_FIELD] : [...ENRICHMENT_FIELDS];
  const taken = new Map<string, string>();
  for (const name of options.reserved ?? []) taken.set(name.toLowerCase(), `the format's own ${name} column`);
  for (const field of added) taken.set(field.name.toLowerCase(), `the enrichment column ${field.name}`);
  const seen = new Set<string>();
  for (const field of userFields) {
    const key = field.name.toLowerCase();
    const clash = taken.get(key) ?? (seen.has(key) ? 'another field of the same name' : undefined);
    if (clash !== undefined) {
      throw new FormatError(
        'output-field-collision',
        `The field '${field.name}' cannot be written next to ${clash}.`,
        { remedy: `Rename the field '${field.name}' in the source (or drop it) and submit the file again.` },
      );
    }
    seen.add(key);
  }
  return [...userFields, ...added];
}

/** The enrichment as column values, keyed by `ENRICHMENT_FIELDS` names. */
export function enrichmentValues(enrichment: Enrichment): Record<string, PropertyValue> {
  return {
    gers: enrichment.gers,
    confidence: enrichment.confidence,
    lr_from: enrichment.lr_from,
    lr_to: enrichment.lr_to,
    match: enrichment.match,
    match_count: enrichment.match_count,
  };
}

/** One match as the output shows it: the enrichment's snake_case names, also used by the GeoPackage side table. */
export function matchRecord(match: GersMatch): Record<string, string | number | null> {
  return {
    gers: match.gers,
    confidence: match.confidence,
    lr_from: match.lrFrom,
    lr_to: match.lrTo,
    gers_from: match.gersFrom,
    gers_to: match.gersTo,
    part: match.part,
  };
}

/**
 * JSON text of any property value: bigints too large for a JSON number as strings, binary as base64, dates as
 * ISO 8601 (their own `toJSON`). Used for `json` fields and the `matches` column.
 */
export function toJsonText(value: PropertyValue | Record<string, unknown> | unknown[]): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    return v;
  });
}
