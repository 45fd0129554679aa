/**
 * Attribute plumbing shared by readers and writers: inferring the fields of a schema-less source (GeoJSON),
 * naming the enrichment columns so they never overwrite a user's own attribute, and turning values into
 * what JSON can carry.
 */
import {
  ENRICHMENT_FIELDS,
  type FieldInfo,
  type FieldType,
  type GersMatch,
  type PropertyValue,
} from './types.js';

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'json';

function kindOf(value: PropertyValue): Kind | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'bigint') return 'integer';
  return 'json';
}

/**
 * Field names in first-seen order with the narrowest type that holds every value seen: integers and
 * decimals together are `number`; any other mix is `json` (kept as is in JSON formats, as JSON text in
 * others). A field only ever null is `string`.
 */
export class FieldCollector {
  private readonly kinds = new Map<string, Kind | null>();

  constructor(
    private readonly maxFields: number,
    private readonly tooMany: () => Error,
  ) {}

  add(properties: Record<string, PropertyValue>): void {
    for (const key in properties) {
      if (!Object.hasOwn(properties, key)) continue;
      const kind = kindOf(properties[key]!);
      const seen = this.kinds.get(key);
      if (seen === undefined && !this.kinds.has(key)) {
        if (this.kinds.size >= this.maxFields) throw this.tooMany();
        this.kinds.set(key, kind);
      } else if (kind !== null && seen !== kind) {
        this.kinds.set(key, seen === null || seen === undefined ? kind : merge(seen, kind));
      }
    }
  }

  fields(): FieldInfo[] {
    return [...this.kinds].map(([name, kind]) => ({ name, type: (kind ?? 'string') as FieldType }));
  }
}

function merge(a: Kind, b: Kind): Kind {
  if ((a === 'integer' && b === 'number') || (a === 'number' && b === 'integer')) return 'number';
  return 'json';
}

/** The names the enrichment columns are written under: `gers`, `confidence`, …, `matches`. */
export type EnrichmentNames = Record<(typeof ENRICHMENT_FIELDS)[number]['name'] | 'matches', string>;

/**
 * The enrichment's column names for a layer: the documented names, except where the user's own data already
 * has that name; then `gem_<name>` (then `gem_<name>_2`, …), so the user's attribute comes back unchanged.
 */
export function enrichmentNames(userFields: readonly FieldInfo[]): EnrichmentNames {
  const taken = new Set(userFields.map((f) => f.name.toLowerCase()));
  const names = {} as EnrichmentNames;
  for (const name of [...ENRICHMENT_FIELDS.map((f) => f.name), 'matches'] as (keyof EnrichmentNames)[]) {
    let chosen = name;
    if (taken.has(chosen.toLowerCase())) chosen = `gem_${name}`;
    for (let n = 2; taken.has(chosen.toLowerCase()); n++) chosen = `gem_${name}_${n}`;
    taken.add(chosen.toLowerCase());
    names[name] = chosen;
  }
  return names;
}

/**
 * A value as JSON can carry it: bigint as a number when exact, else as decimal text; binary as base64;
 * dates as ISO 8601 text (what `JSON.stringify` does); nested values converted throughout.
 */
export function jsonSafe(value: PropertyValue): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint')
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    if (typeof value === 'number' && !Number.isFinite(value)) return null;
    return value;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(jsonSafe);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = jsonSafe(value[key]!);
  return out;
}

/** Matches as written in JSON formats and JSON text columns (snake_case, as the enrichment fields are). */
export function matchesAsJson(matches: readonly GersMatch[]): Record<string, string | number | null>[] {
  return matches.map((m) => ({
    gers: m.gers,
    confidence: m.confidence,
    lr_from: m.lrFrom,
    lr_to: m.lrTo,
    gers_from: m.gersFrom,
    gers_to: m.gersTo,
    part: m.part,
  }));
}
