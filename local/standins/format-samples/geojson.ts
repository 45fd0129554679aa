/**
 * GeoJSON and GeoJSONSeq samples: a valid FeatureCollection (or one feature per line) of the sample roads,
 * and broken files that each differ from the valid one in one defect, so a test can say exactly which
 * finding must come back and for which feature.
 */
import { jsonSafe } from '../../../shared/formats/fields.js';
import type { Geometry } from '../../../shared/formats/types.js';
import { type SampleFeature, sampleRoads } from './roads.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function featureJson(f: SampleFeature): Record<string, unknown> {
  return {
    type: 'Feature',
    ...(f.id === null ? {} : { id: f.id }),
    geometry: f.geometry,
    properties: jsonSafe(f.properties),
  };
}

export interface GeoJsonSampleOptions {
  /** A GeoJSON 2008 `crs` member naming this EPSG code (for projected coordinates). */
  crsCode?: number;
  name?: string;
}

/** A FeatureCollection of the features, one feature per line (as GDAL writes it). */
export function valid(
  features: SampleFeature[] = sampleRoads(),
  options: GeoJsonSampleOptions = {},
): Uint8Array {
  const crs = options.crsCode
    ? `"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::${options.crsCode}"}},\n`
    : '';
  const body = features.map((f) => JSON.stringify(featureJson(f))).join(',\n');
  return encode(
    `{"type":"FeatureCollection","name":${JSON.stringify(options.name ?? 'roads')},\n${crs}"features":[\n${body}\n]}\n`,
  );
}

export const GEOJSON_BROKEN = [
  'polygon',
  'single-point',
  'single-feature',
  'bare-geometry',
  'truncated',
  'crs-unknown',
] as const;
export type GeoJsonBroken = (typeof GEOJSON_BROKEN)[number];

/** The 0-based feature that carries the defect, for the per-feature cases. */
export const DEFECT_FEATURE = 2;

function square(g: Geometry | null): Geometry {
  const [x, y] = g?.type === 'LineString' ? g.coordinates[0]! : [4.9, 52.37];
  const d = 0.0005;
  return {
    type: 'Polygon',
    coordinates: [
      [
        [x!, y!],
        [x! + d, y!],
        [x! + d, y! + d],
        [x!, y! + d],
        [x!, y!],
      ],
    ],
  };
}

export function broken(kind: GeoJsonBroken, features: SampleFeature[] = sampleRoads()): Uint8Array {
  const copy = features.map((f) => ({ ...f }));
  const target = copy[DEFECT_FEATURE]!;
  switch (kind) {
    case 'polygon':
      target.geometry = square(target.geometry);
      return valid(copy);
    case 'single-point':
      target.geometry = {
        type: 'LineString',
        coordinates: [(target.geometry as { coordinates: number[][] }).coordinates[0]!],
      };
      return valid(copy);
    case 'single-feature':
      return encode(JSON.stringify(featureJson(target)));
    case 'bare-geometry':
      return encode(JSON.stringify(target.geometry));
    case 'truncated': {
      const text = valid(copy);
      return text.subarray(0, Math.floor(text.byteLength * 0.6));
    }
    case 'crs-unknown': {
      const text = new TextDecoder().decode(valid(copy));
      return encode(
        text.replace(
          '"features":',
          '"crs":{"type":"link","properties":{"href":"http://example.com/crs/42","type":"proj4"}},"features":',
        ),
      );
    }
  }
}

/** GeoJSONSeq (RFC 8142 when `rs`, else newline-delimited GeoJSON). */
export function validSeq(
  features: SampleFeature[] = sampleRoads(),
  options: { rs?: boolean } = {},
): Uint8Array {
  const prefix = options.rs ? '\u001e' : '';
  return encode(features.map((f) => `${prefix}${JSON.stringify(featureJson(f))}\n`).join(''));
}

export const SEQ_BROKEN = ['invalid-line', 'single-point'] as const;
export type SeqBroken = (typeof SEQ_BROKEN)[number];

export function brokenSeq(kind: SeqBroken, features: SampleFeature[] = sampleRoads()): Uint8Array {
  const lines = new TextDecoder().decode(validSeq(features)).split('\n');
  if (kind === 'invalid-line') lines[DEFECT_FEATURE] = lines[DEFECT_FEATURE]!.slice(0, -7);
  else {
    const f = { ...features[DEFECT_FEATURE]! };
    f.geometry = {
      type: 'LineString',
      coordinates: [(f.geometry as { coordinates: number[][] }).coordinates[0]!],
    };
    lines[DEFECT_FEATURE] = JSON.stringify(featureJson(f));
  }
  return encode(lines.join('\n'));
}
