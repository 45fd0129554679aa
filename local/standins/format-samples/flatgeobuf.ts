/**
 * FlatGeobuf samples: the sample roads as a plain road layer (typed columns: 64-bit integers, dates, booleans),
 * written with gem-flow's streaming FlatGeobuf writer and no enrichment, and `byReference()`, the same roads
 * written by the `flatgeobuf` package's own serializer (its GeoJSON adapter infers the columns from the first
 * feature and knows no bigint or date, so those go in as text). Broken cases each differ from the valid file
 * in one defect: cut short inside the last feature, a polygon among the lines, and a header that claims more
 * bytes than the file has.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFlatGeobufWriter } from '../../../shared/formats/flatgeobuf.js';
import type { CrsDeclaration, PropertyValue } from '../../../shared/formats/types.js';
import { sampleFields, square } from './geopackage.js';
import { type SampleFeature, sampleRoads } from './roads.js';

export interface FlatGeobufSampleOptions {
  layer?: string;
  /** The CRS the header declares. Default EPSG:4326. */
  crs?: CrsDeclaration | null;
}

/** A valid FlatGeobuf file of the features, without a spatial index. */
export async function valid(
  features: SampleFeature[] = sampleRoads(),
  options: FlatGeobufSampleOptions = {},
): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'gem-flow-fgb-sample-'));
  try {
    const path = join(dir, 'sample.fgb');
    const crs =
      options.crs === undefined ? { kind: 'epsg' as const, code: 4326, source: 'sample' } : options.crs;
    const writer = await openFlatGeobufWriter(
      { path, layer: options.layer ?? 'roads', crs, geometryType: null, tempDir: dir },
      sampleFields(features),
    );
    for (const f of features) await writer.write(f.geometry, f.properties);
    await writer.finish();
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function referenceValue(value: PropertyValue): PropertyValue {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  return value;
}

/** The same roads written by the `flatgeobuf` package's own serializer (EPSG:4326 declared by code). */
export async function byReference(features: SampleFeature[] = sampleRoads()): Promise<Uint8Array> {
  const { serialize } = await import('flatgeobuf/lib/mjs/geojson.js');
  const collection = {
    type: 'FeatureCollection' as const,
    features: features.map((f) => ({
      type: 'Feature' as const,
      geometry: f.geometry as never,
      properties: Object.fromEntries(Object.entries(f.properties).map(([k, v]) => [k, referenceValue(v)])),
    })),
  };
  return serialize(collection, 4326);
}

export const FLATGEOBUF_BROKEN = ['truncated', 'polygon', 'header-overrun'] as const;
export type FlatGeobufBroken = (typeof FLATGEOBUF_BROKEN)[number];

/** The 0-based feature that carries a per-feature defect. */
export const DEFECT_FEATURE = 2;

export async function broken(
  kind: FlatGeobufBroken,
  features: SampleFeature[] = sampleRoads(),
): Promise<Uint8Array> {
  switch (kind) {
    case 'truncated': {
      const bytes = await valid(features);
      return bytes.subarray(0, bytes.byteLength - 20);
    }
    case 'polygon':
      return valid(
        features.map((f, i) => (i === DEFECT_FEATURE ? { ...f, geometry: square(f.geometry) } : f)),
      );
    case 'header-overrun': {
      const bytes = (await valid(features)).slice();
      new DataView(bytes.buffer).setUint32(8, bytes.byteLength, true);
      return bytes;
    }
  }
}
