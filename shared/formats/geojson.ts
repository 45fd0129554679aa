/**
 * GeoJSON in and out. Readers: a FeatureCollection (RFC 7946), streamed through `jsonStream.ts`, and
 * GeoJSONSeq / NDJSON (RFC 8142: one feature per line, optionally after an RS character), read line by
 * line with every line bounded by `maxFeatureBytes`. GeoJSON has no schema, so a first streaming pass
 * collects the attribute fields (names in first-seen order, a type that holds every value) and the
 * document's `crs` member wherever it stands; the second pass yields the features. The `crs` member of
 * GeoJSON 2008 files is honoured when it names a CRS by code (`urn:ogc:def:crs:EPSG::28992`); any other form
 * is a `crs-unknown` FormatError. The writer streams a FeatureCollection with the enrichment and `matches`
 * after the user's properties.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import { epsgCodeOf, parseCrsText } from './crs.js';
import { FormatError } from './errors.js';
import { enrichmentNames, FieldCollector, jsonSafe, matchesAsJson } from './fields.js';
import { checkGeoJsonGeometry } from './geometry.js';
import { FeatureCollectionAssembler, type Json } from './jsonStream.js';
import type {
  CreateFeatureSink,
  CrsDeclaration,
  FeatureSource,
  FormatLimits,
  Geometry,
  OpenFeatureSource,
  Position,
  PropertyValue,
  SourceFeature,
  SourceFile,
} from './types.js';

// ---- Features from parsed JSON ----

/** A parsed GeoJSON value as a SourceFeature; anything malformed is the feature's problem, not a crash. */
export function featureFromJson(value: Json, index: number): SourceFeature {
  const feature: SourceFeature = { index, id: null, geometry: null, properties: {} };
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    feature.problem = { rule: 'feature-unreadable', message: 'the value is not a GeoJSON Feature object.' };
    return feature;
  }
  const id = value.id;
  if (typeof id === 'string' || typeof id === 'number') feature.id = id;
  const props = value.properties;
  if (props && typeof props === 'object' && !Array.isArray(props))
    feature.properties = props as Record<string, PropertyValue>;
  else if (props !== null && props !== undefined) {
    feature.problem = { rule: 'property-unreadable', message: '"properties" is not an object.' };
  }
  if (value.type !== 'Feature') {
    feature.problem = {
      rule: 'feature-unreadable',
      message: `the value's "type" is ${JSON.stringify(value.type ?? null)?.slice(0, 40)}, not "Feature".`,
    };
    return feature;
  }
  const geometry = value.geometry;
  if (geometry === null || geometry === undefined) return feature;
  const reason = checkGeoJsonGeometry(geometry);
  if (reason) feature.problem = { rule: 'geometry-unreadable', message: `${reason}.` };
  else feature.geometry = geometry as unknown as Geometry;
  return feature;
}

/** The CRS a GeoJSON 2008 `crs` member names; undefined when there is none (RFC 7946: CRS84). */
export function crsFromMember(member: Json | undefined, label: string): CrsDeclaration | undefined {
  if (member === undefined || member === null) return undefined;
  const source = `${label} "crs" member`;
  const name =
    typeof member === 'object' &&
    !Array.isArray(member) &&
    member.type === 'name' &&
    member.properties &&
    typeof member.properties === 'object' &&
    !Array.isArray(member.properties)
      ? member.properties.name
      : undefined;
  const parsed = typeof name === 'string' ? parseCrsText(name, source) : null;
  if (parsed && parsed.kind !== 'wkt') return parsed;
  throw new FormatError(
    'crs-unknown',
    `${source} ${JSON.stringify(member).slice(0, 120)} does not name a CRS gem-flow can look up.`,
    {
      remedy:
        'RFC 7946 GeoJSON is always WGS 84 lon/lat: reproject the file to EPSG:4326 and drop the "crs" member, or name the CRS as {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}, or set the sourceCrs option.',
    },
  );
}

function tooManyFields(label: string, limits: FormatLimits): FormatError {
  return new FormatError(
    'too-many-fields',
    `${label} has more than ${limits.maxFields} distinct property names.`,
    {
      remedy: 'Drop the properties you do not need before uploading.',
    },
  );
}

// ---- FeatureCollection ----

async function scanCollection(
  file: SourceFile,
  limits: FormatLimits,
  onFeature: (f: SourceFeature) => void,
): Promise<FeatureCollectionAssembler> {
  const assembler = new FeatureCollectionAssembler(
    limits,
    (value, index) => onFeature(featureFromJson(value, index)),
    file.name,
    true,
  );
  for await (const chunk of file.stream()) assembler.write(chunk);
  assembler.end();
  return assembler;
}

export const openGeoJson: OpenFeatureSource = async (file, options) => {
  const { limits } = options;
  const fields = new FieldCollector(limits.maxFields, () => tooManyFields(file.name, limits));
  const scan = await scanCollection(file, limits, (f) => fields.add(f.properties));
  const root = scan.root();
  if (
    !root ||
    typeof root !== 'object' ||
    Array.isArray(root) ||
    root.type !== 'FeatureCollection' ||
    !Array.isArray(root.features)
  ) {
    throw new FormatError(
      'geojson-not-collection',
      `${file.name} is not a GeoJSON FeatureCollection (no "type": "FeatureCollection" with a "features" array).`,
      {
        remedy: 'Write the roads as {"type": "FeatureCollection", "features": [ … ]}.',
      },
    );
  }
  const crs = crsFromMember(root.crs, file.name) ?? {
    kind: 'crs84',
    source: 'GeoJSON (RFC 7946: WGS 84 lon/lat)',
  };
  let used = false;

  async function* features(): AsyncIterable<SourceFeature> {
    if (used) throw new Error('features() can be called once');
    used = true;
    const ready: SourceFeature[] = [];
    const assembler = new FeatureCollectionAssembler(
      limits,
      (value, index) => ready.push(featureFromJson(value, index)),
      file.name,
    );
    for await (const chunk of file.stream()) {
      assembler.write(chunk);
      while (ready.length) yield ready.shift()!;
    }
    assembler.end();
    while (ready.length) yield ready.shift()!;
  }

  return {
    format: 'geojson',
    layer: typeof root.name === 'string' ? root.name : null,
    crs,
    fields: fields.fields(),
    declaredGeometryType: null,
    declaredFeatureCount: scan.features,
    features,
    close: async () => {},
  } satisfies FeatureSource;
};

// ---- GeoJSONSeq / NDJSON ----

const NEWLINE = 0x0a;
const RS = 0x1e;

export interface Line {
  /** The line's text without its terminator (and without a leading RS), or null when it was too long. */
  text: string | null;
  /** Bytes of the line, counted even when it was too long. */
  bytes: number;
}

/**
 * The lines of a byte stream, each at most `maxBytes`: a longer line is skipped to its end (its bytes are
 * never held) and reported with `text: null`. Blank lines are skipped. RS (0x1E) starts a record as RFC 8142
 * specifies and is treated as a line break.
 */
export async function* boundedLines(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes: number,
): AsyncIterable<Line> {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let length = 0;
  let overflow = false;
  const finish = (): Line | undefined => {
    const line = overflow
      ? { text: null, bytes: length }
      : {
          text: decoder.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts)).replace(/\r$/, ''),
          bytes: length,
        };
    parts = [];
    length = 0;
    overflow = false;
    return line.text === null || line.text.trim() !== '' ? line : undefined;
  };
  for await (const chunk of chunks) {
    let from = 0;
    for (let i = 0; i < chunk.byteLength; i++) {
      const b = chunk[i];
      if (b !== NEWLINE && b !== RS) continue;
      const piece = chunk.subarray(from, i);
      length += piece.byteLength;
      if (!overflow && length <= maxBytes) parts.push(piece);
      else overflow = true;
      from = i + 1;
      const line = finish();
      if (line) yield line;
    }
    const rest = chunk.subarray(from);
    length += rest.byteLength;
    if (!overflow && length <= maxBytes) parts.push(rest.slice());
    else {
      overflow = true;
      parts = [];
    }
  }
  if (length > 0 || parts.length > 0) {
    const line = finish();
    if (line) yield line;
  }
}

function parseLine(line: Line, index: number, maxBytes: number): SourceFeature {
  if (line.text === null) {
    return {
      index,
      id: null,
      geometry: null,
      properties: {},
      problem: {
        rule: 'feature-too-large',
        message: `the line is ${line.bytes} bytes, over the limit of ${maxBytes}.`,
      },
    };
  }
  let value: Json;
  try {
    value = JSON.parse(line.text) as Json;
  } catch (err) {
    return {
      index,
      id: null,
      geometry: null,
      properties: {},
      problem: {
        rule: 'feature-unreadable',
        message: `the line is not valid JSON (${errorMessage(err)}).`,
      },
    };
  }
  return featureFromJson(value, index);
}

export const openGeoJsonSeq: OpenFeatureSource = async (file, options) => {
  const { limits } = options;
  const fields = new FieldCollector(limits.maxFields, () => tooManyFields(file.name, limits));
  let count = 0;
  for await (const line of boundedLines(file.stream(), limits.maxFeatureBytes)) {
    fields.add(parseLine(line, count, limits.maxFeatureBytes).properties);
    count++;
  }
  let used = false;
  async function* features(): AsyncIterable<SourceFeature> {
    if (used) throw new Error('features() can be called once');
    used = true;
    let index = 0;
    for await (const line of boundedLines(file.stream(), limits.maxFeatureBytes)) {
      yield parseLine(line, index++, limits.maxFeatureBytes);
    }
  }
  return {
    format: 'geojsonseq',
    layer: null,
    crs: { kind: 'crs84', source: 'GeoJSONSeq (RFC 8142: WGS 84 lon/lat)' },
    fields: fields.fields(),
    declaredGeometryType: null,
    declaredFeatureCount: count,
    features,
    close: async () => {},
  } satisfies FeatureSource;
};

// ---- Writer ----

/** Positions as GeoJSON can carry them: XYM (`[x, y, NaN, m]`) loses its M, which JSON cannot mark. */
function geoJsonGeometry(g: Geometry | null): unknown {
  if (!g) return null;
  const pos = (p: Position): Position => (p.length === 4 && Number.isNaN(p[2]) ? [p[0]!, p[1]!] : p);
  switch (g.type) {
    case 'Point':
      return { type: g.type, coordinates: pos(g.coordinates) };
    case 'MultiPoint':
    case 'LineString':
      return { type: g.type, coordinates: g.coordinates.map(pos) };
    case 'MultiLineString':
    case 'Polygon':
      return { type: g.type, coordinates: g.coordinates.map((l) => l.map(pos)) };
    case 'MultiPolygon':
      return { type: g.type, coordinates: g.coordinates.map((p) => p.map((l) => l.map(pos))) };
    case 'GeometryCollection':
      return { type: g.type, geometries: g.geometries.map(geoJsonGeometry) };
  }
}

async function writeText(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text))
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      out.once('error', onError);
      out.once('drain', () => {
        out.off('error', onError);
        resolve();
      });
    });
}

/** The `crs` member to write for geometries kept in a CRS other than CRS84 (GeoJSON 2008 form). */
function crsMember(crs: CrsDeclaration | null): string {
  const code = epsgCodeOf(crs);
  if (code === undefined || code === 4326) return '';
  return `"crs":${JSON.stringify({ type: 'name', properties: { name: `urn:ogc:def:crs:EPSG::${code}` } })},`;
}

export const createGeoJsonSink: CreateFeatureSink = async (options) => {
  const out = createWriteStream(options.path, { flags: 'w' });
  const names = enrichmentNames(options.fields);
  let count = 0;
  let failed: Error | undefined;
  out.on('error', (err) => {
    failed = err;
  });
  await writeText(
    out,
    `{"type":"FeatureCollection","name":${JSON.stringify(options.layer)},${crsMember(options.crs)}"features":[\n`,
  );
  return {
    async write(feature) {
      if (failed) throw failed;
      const properties: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(feature.properties)) properties[key] = jsonSafe(value);
      const e = feature.enrichment;
      properties[names.gers] = e.gers;
      properties[names.confidence] = e.confidence;
      properties[names.lr_from] = e.lr_from;
      properties[names.lr_to] = e.lr_to;
      properties[names.match] = e.match;
      properties[names.match_count] = e.match_count;
      properties[names.matches] = matchesAsJson(feature.matches);
      const record = {
        type: 'Feature',
        ...(feature.id === null ? {} : { id: feature.id }),
        geometry: geoJsonGeometry(feature.geometry),
        properties,
      };
      await writeText(out, `${count === 0 ? '' : ',\n'}${JSON.stringify(record)}`);
      count++;
    },
    async finish() {
      await writeText(out, '\n]}\n');
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      if (failed) throw failed;
      return { features: count, bytes: (await stat(options.path)).size };
    },
    async abort() {
      out.destroy();
      await rm(options.path, { force: true });
    },
  };
};
