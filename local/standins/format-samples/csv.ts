/**
 * CSV samples: the sample roads with a WKT column (and every other attribute as text), valid, and with
 * unreadable WKT in one row.
 */
import { csvCell } from '../../../shared/formats/csv.js';
import { geometryToWkt } from '../../../shared/formats/geometry.js';
import type { PropertyValue } from '../../../shared/formats/types.js';
import { type SampleFeature, sampleRoads } from './roads.js';

export interface CsvSampleOptions {
  delimiter?: ',' | ';' | '\t' | '|';
  /** The WKT column's name. Default "WKT" (what QGIS writes). */
  wktColumn?: string;
}

function text(value: PropertyValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value);
}

function cell(value: string, delimiter: string): string {
  return delimiter === ','
    ? csvCell(value)
    : /["\r\n]/.test(value) || value.includes(delimiter)
      ? `"${value.replace(/"/g, '""')}"`
      : value;
}

/** The features as CSV rows: the attribute columns, then the WKT column. */
export function valid(features: SampleFeature[] = sampleRoads(), options: CsvSampleOptions = {}): Uint8Array {
  const d = options.delimiter ?? ',';
  const names = Object.keys(features[0]?.properties ?? {});
  const lines = [[...names, options.wktColumn ?? 'WKT'].map((n) => cell(n, d)).join(d)];
  for (const f of features) {
    const cells = names.map((n) => text(f.properties[n]));
    cells.push(f.geometry ? geometryToWkt(f.geometry) : '');
    lines.push(cells.map((c) => cell(c, d)).join(d));
  }
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n`);
}

export const CSV_BROKEN = ['bad-wkt-row-3', 'no-wkt-column'] as const;
export type CsvBroken = (typeof CSV_BROKEN)[number];

/** The 0-based data row (feature index) that carries a per-row defect: the third data row. */
export const DEFECT_ROW = 2;

export function broken(kind: CsvBroken, features: SampleFeature[] = sampleRoads()): Uint8Array {
  const lines = new TextDecoder().decode(valid(features)).split('\r\n');
  if (kind === 'no-wkt-column') lines[0] = lines[0]!.replace(/WKT$/, 'shape_text');
  else
    lines[DEFECT_ROW + 1] = lines[DEFECT_ROW + 1]!.replace(
      /"?LINESTRING( Z)? ?\(/,
      '"LINESTRING$1 (4.9 52.3, oops, ',
    ).replace(/\)"?$/, ')"');
  return new TextEncoder().encode(lines.join('\r\n'));
}
