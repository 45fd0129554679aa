/**
 * Generators of GEM input files for tests, the simulator and the README walk-through.
 *
 * Every file is deterministic from its seed, so a test can regenerate the exact bytes it uploaded and a
 * content-derived name stays stable between runs. Invalid kinds differ from the valid file in exactly one
 * defect, so a validator that reports anything else on them is wrong, not just noisy.
 *
 * Hostile kinds (hostileSamples.ts) are files whose footer lies or whose size is extreme; for them the number is
 * the point count (`giant-row`) or the nesting depth (`deep-schema`).
 *
 * Run as a script to write a file:
 *   npm exec -- node dist/local/standins/samples.js <kind> <out.parquet> [rows] [seed]
 *   npm exec -- node dist/local/standins/samples.js lane-level <out.parquet> [rows] [seed]
 *   npm exec -- node dist/local/standins/samples.js giant-row <out.parquet> [points]
 *   npm exec -- node dist/local/standins/samples.js formats [dir] [rows]   (every road format, valid and broken)
 */
import { statSync, writeFileSync } from 'node:fs';
import type { ColumnSource, SchemaElement } from 'hyparquet-writer';
import { fileWriter, ParquetWriter, parquetWriteBuffer, schemaFromColumnData } from 'hyparquet-writer';
import { HOSTILE_SAMPLE_KINDS, hostileSample, isHostileSampleKind } from './hostileSamples.js';

export const ROAD_SAMPLE_KINDS = [
  'valid',
  'not-parquet',
  'missing-id',
  'missing-geometry',
  'duplicate-ids',
  'not-a-linestring',
  'single-point',
  'coordinates-out-of-range',
  'non-boolean-is-navigable',
] as const;

export type RoadSampleKind = (typeof ROAD_SAMPLE_KINDS)[number];

export type SampleIdType = 'int32' | 'int64' | 'string';

export interface RoadSampleOptions {
  /** Number of road segments (rows). Default 50; at least 4 so every defect has room for its rows. */
  rows?: number;
  /** PRNG seed; the same seed gives the same bytes. Default 1. */
  seed?: number;
  /** Physical type of `id`. Default 'int64' (what TomTom's pyarrow examples write). */
  idType?: SampleIdType;
  /** Whether to write the optional `is_navigable` column. Default true. */
  withIsNavigable?: boolean;
  /** Rows per Parquet row group; small values give multi-row-group files for streaming tests. */
  rowGroupSize?: number;
}

/** The rows of a road sample before encoding, plus where the defect was put (0-based row numbers). */
export interface RoadSampleRecords {
  kind: RoadSampleKind;
  ids: (number | bigint | string)[] | null;
  idType: SampleIdType;
  geometries: string[] | null;
  /** Booleans (with a few nulls), or strings for the 'non-boolean-is-navigable' defect; null = column absent. */
  isNavigable: (boolean | string | null)[] | null;
  /** 0-based rows that carry the defect; empty for 'valid' and for whole-file/whole-column defects. */
  defectRows: number[];
  /** For 'duplicate-ids': the earlier row whose id the defect row repeats. */
  duplicateOf?: number;
}

const DEFAULT_ROWS = 50;

/** mulberry32: tiny, fast, and good enough to make plausible geometry; not for anything secret. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type LonLat = [lon: number, lat: number];

/** Metres per degree near Amsterdam (52.37° N), enough for making street-sized steps. */
const M_PER_DEG_LAT = 111_320;
const M_PER_DEG_LON = 111_320 * Math.cos((52.37 * Math.PI) / 180);

/** A street-like polyline: 2–8 vertices, 40–180 m apart, heading drifting gently as roads do. */
function amsterdamRoad(rand: () => number): LonLat[] {
  const count = 2 + Math.floor(rand() * 7);
  let lon = 4.85 + rand() * 0.1;
  let lat = 52.34 + rand() * 0.06;
  let heading = rand() * 2 * Math.PI;
  const points: LonLat[] = [[lon, lat]];
  for (let i = 1; i < count; i++) {
    const step = 40 + rand() * 140;
    heading += (rand() - 0.5) * 0.8;
    lon += (Math.sin(heading) * step) / M_PER_DEG_LON;
    lat += (Math.cos(heading) * step) / M_PER_DEG_LAT;
    points.push([lon, lat]);
  }
  return points;
}

const fmt = (n: number): string => n.toFixed(6);
const wktPoint = ([x, y]: LonLat): string => `${fmt(x)} ${fmt(y)}`;
const wktLineString = (points: LonLat[]): string => `LINESTRING (${points.map(wktPoint).join(', ')})`;

function idFor(index: number, idType: SampleIdType): number | bigint | string {
  // Offsets make ids look like real source-system keys rather than row numbers, so a validator that
  // confuses the two is caught.
  if (idType === 'int32') return 100_000 + index * 7;
  if (idType === 'int64') return 5_000_000_000n + BigInt(index) * 13n;
  return `nl-ams-${String(index).padStart(6, '0')}`;
}

/** Rows `from` … `from + count − 1` of a valid sample, drawing from `rand` in row order. */
function generateRoads(
  from: number,
  count: number,
  idType: SampleIdType,
  rand: () => number,
): { ids: (number | bigint | string)[]; lines: LonLat[][]; isNavigable: (boolean | null)[] } {
  const ids: (number | bigint | string)[] = [];
  const lines: LonLat[][] = [];
  const isNavigable: (boolean | null)[] = [];
  for (let i = from; i < from + count; i++) {
    ids.push(idFor(i, idType));
    lines.push(amsterdamRoad(rand));
    // ~85 % drivable, ~10 % footpaths/cycle paths, ~5 % unknown (null = not navigable for GEM).
    const r = rand();
    isNavigable.push(r < 0.05 ? null : r >= 0.15);
  }
  return { ids, lines, isNavigable };
}

/** Builds the rows of a sample; `roadMatchingSample` encodes them. Exposed so tests can state expectations. */
export function roadMatchingRecords(
  kind: RoadSampleKind,
  options: RoadSampleOptions = {},
): RoadSampleRecords {
  const rows = Math.max(4, Math.floor(options.rows ?? DEFAULT_ROWS));
  const idType = options.idType ?? 'int64';
  const withIsNavigable = options.withIsNavigable ?? true;
  const rand = prng(options.seed ?? 1);

  const { ids, lines, isNavigable } = generateRoads(0, rows, idType, rand);
  const geometries = lines.map(wktLineString);
  // The defect goes into rows the seed chooses, never row 0, so "first row" shortcuts are caught.
  const pick = (): number => 1 + Math.floor(rand() * (rows - 1));
  const records: RoadSampleRecords = {
    kind,
    ids,
    idType,
    geometries,
    isNavigable: withIsNavigable ? isNavigable : null,
    defectRows: [],
  };

  switch (kind) {
    case 'valid':
    case 'not-parquet':
      break;
    case 'missing-id':
      records.ids = null;
      break;
    case 'missing-geometry':
      records.geometries = null;
      break;
    case 'duplicate-ids': {
      // The later row repeats the earlier one's id, so the defect row is the one a reader meets second.
      const a = pick();
      let b = pick();
      if (b === a) b = a === 1 ? 2 : a - 1;
      const [original, dup] = a < b ? [a, b] : [b, a];
      ids[dup] = ids[original]!;
      records.defectRows = [dup];
      records.duplicateOf = original;
      break;
    }
    case 'not-a-linestring': {
      // The two mistakes TomTom's data-prep page shows: a wrong geometry type and extra parentheses.
      const a = pick();
      let b = pick();
      if (b === a) b = a === 1 ? 2 : a - 1;
      geometries[a] = `POINT (${wktPoint(lines[a]![0]!)})`;
      geometries[b] = `LINESTRING ((${lines[b]!.map(wktPoint).join(', ')}))`;
      records.defectRows = [a, b].sort((x, y) => x - y);
      break;
    }
    case 'single-point': {
      // The row's own first vertex, so the only thing wrong is the point count.
      const a = pick();
      geometries[a] = wktLineString([lines[a]![0]!]);
      records.defectRows = [a];
      break;
    }
    case 'coordinates-out-of-range': {
      // Latitude written first. A swapped Amsterdam pair stays in range (52 is a valid longitude), so
      // the defect uses a road in Melbourne, whose swapped longitude (145°) is an impossible latitude.
      const a = pick();
      const melbourne = lines[a]!.map(
        ([lon, lat]): LonLat => [145.18156 + (lon - 4.9), -37.87 + (lat - 52.37)],
      );
      geometries[a] = `LINESTRING (${melbourne.map(([lon, lat]) => `${fmt(lat)} ${fmt(lon)}`).join(', ')})`;
      records.defectRows = [a];
      break;
    }
    case 'non-boolean-is-navigable':
      // Strings that look boolean: the common result of exporting from CSV without a schema.
      records.isNavigable = isNavigable.map((v) => (v === null ? null : String(v)));
      break;
  }
  return records;
}

/** Encodes records as Parquet with the types GEM expects (or the defect's wrong one). */
export function encodeRoadMatchingRecords(records: RoadSampleRecords, rowGroupSize?: number): Uint8Array {
  if (records.kind === 'not-parquet') {
    // A CSV saved with a .parquet name: the mistake most likely to reach the validator.
    const lines = ['id,geometry,is_navigable'];
    const n = records.geometries?.length ?? 0;
    for (let i = 0; i < n; i++) {
      lines.push(
        `${String(records.ids?.[i])},"${records.geometries?.[i]}",${String(records.isNavigable?.[i] ?? '')}`,
      );
    }
    return new TextEncoder().encode(lines.join('\n') + '\n');
  }
  const columnData: ColumnSource[] = [];
  if (records.ids) {
    const type = records.idType === 'int32' ? 'INT32' : records.idType === 'int64' ? 'INT64' : 'STRING';
    columnData.push({ name: 'id', data: records.ids, type, nullable: false });
  }
  if (records.geometries) columnData.push({ name: 'geometry', data: records.geometries, type: 'STRING' });
  if (records.isNavigable) {
    const type = records.kind === 'non-boolean-is-navigable' ? 'STRING' : 'BOOLEAN';
    columnData.push({ name: 'is_navigable', data: records.isNavigable, type });
  }
  const buffer = parquetWriteBuffer({
    columnData,
    ...(rowGroupSize === undefined ? {} : { rowGroupSize }),
    createdBy: 'gem-flow samples',
  });
  return new Uint8Array(buffer);
}

/** A ROAD_MATCHING input file of the given kind (see RoadSampleKind), as Parquet bytes. */
export function roadMatchingSample(kind: RoadSampleKind, options: RoadSampleOptions = {}): Uint8Array {
  return encodeRoadMatchingRecords(roadMatchingRecords(kind, options), options.rowGroupSize);
}

export interface LaneLevelSampleOptions {
  /** Number of traces (rows). Default 10. */
  rows?: number;
  seed?: number;
  rowGroupSize?: number;
}

export interface LanePoint {
  coord: { x: number; y: number };
  heading: number;
  lane: bigint;
  timestamp: bigint;
  velocity: number;
}

/**
 * The nested LANE_LEVEL_MATCHING schema from TomTom's data page: `id` string, `points` a 3-level LIST of
 * structs { coord { x, y }, heading, lane, timestamp, velocity }. hyparquet-writer encodes nested columns
 * when given an explicit schema, so this is the real shape, not a flat approximation.
 */
export const LANE_LEVEL_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: 2 },
  { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'points', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 5 },
  { name: 'coord', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'x', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'y', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'heading', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'lane', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'timestamp', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'velocity', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
];

/** Traces of a vehicle driving Amsterdam streets, one point per second. */
export function laneLevelRecords(options: LaneLevelSampleOptions = {}): {
  ids: string[];
  points: LanePoint[][];
} {
  const rows = Math.max(1, Math.floor(options.rows ?? 10));
  const rand = prng(options.seed ?? 1);
  const ids: string[] = [];
  const points: LanePoint[][] = [];
  const start = Date.UTC(2026, 1, 18, 8, 0, 0);
  for (let i = 0; i < rows; i++) {
    ids.push(`trace-${String(i).padStart(5, '0')}`);
    const road = amsterdamRoad(rand);
    const trace: LanePoint[] = [];
    for (let p = 0; p < road.length; p++) {
      const [x, y] = road[p]!;
      const [nx, ny] = road[Math.min(p + 1, road.length - 1)]!;
      const [px, py] = road[Math.max(p - 1, 0)]!;
      const dx = (nx - px) * M_PER_DEG_LON;
      const dy = (ny - py) * M_PER_DEG_LAT;
      const heading = ((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360;
      trace.push({
        coord: { x, y },
        heading: Math.round(heading * 10) / 10,
        lane: BigInt(1 + Math.floor(rand() * 3)),
        timestamp: BigInt(start + i * 600_000 + p * 1000),
        velocity: Math.round((8 + rand() * 6) * 10) / 10,
      });
    }
    points.push(trace);
  }
  return { ids, points };
}

/** A LANE_LEVEL_MATCHING input file (nested Parquet). */
export function laneLevelSample(options: LaneLevelSampleOptions = {}): Uint8Array {
  const { ids, points } = laneLevelRecords(options);
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: ids },
      { name: 'points', data: points },
    ],
    schema: LANE_LEVEL_SCHEMA,
    ...(options.rowGroupSize === undefined ? {} : { rowGroupSize: options.rowGroupSize }),
    createdBy: 'gem-flow samples',
  });
  return new Uint8Array(buffer);
}

export interface LargeSampleOptions {
  rows: number;
  seed?: number;
  /** Rows per row group; default 1,048,576 (pyarrow's default). */
  rowGroupSize?: number;
}

/**
 * Writes a valid sample of any size straight to a file, one row group at a time, so a 10-million-row file is
 * generated in the memory of one row group. Its rows are those `roadMatchingRecords('valid', …)` would give for
 * the same seed (the layout of row groups differs).
 */
export function writeValidSampleFile(path: string, options: LargeSampleOptions): void {
  const rand = prng(options.seed ?? 1);
  const groupRows = Math.max(1, options.rowGroupSize ?? 1_048_576);
  const columns = (from: number, count: number): ColumnSource[] => {
    const { ids, lines, isNavigable } = generateRoads(from, count, 'int64', rand);
    return [
      { name: 'id', data: ids, type: 'INT64', nullable: false },
      { name: 'geometry', data: lines.map(wktLineString), type: 'STRING' },
      { name: 'is_navigable', data: isNavigable, type: 'BOOLEAN' },
    ];
  };
  let first: ColumnSource[] | undefined = columns(0, Math.min(groupRows, options.rows));
  const writer = new ParquetWriter({
    writer: fileWriter(path),
    schema: schemaFromColumnData({ columnData: first }),
    createdBy: 'gem-flow samples',
  });
  for (let from = 0; from < options.rows; from += groupRows) {
    const columnData = first ?? columns(from, Math.min(groupRows, options.rows - from));
    first = undefined;
    writer.write({ columnData, rowGroupSize: groupRows });
  }
  writer.finish();
}

const LARGE_SAMPLE_ROWS = 1_000_000;

function isRoadSampleKind(value: string): value is RoadSampleKind {
  return (ROAD_SAMPLE_KINDS as readonly string[]).includes(value);
}

function main(argv: string[]): number {
  const [kind, out, rowsArg, seedArg] = argv;
  const kinds = [...ROAD_SAMPLE_KINDS, 'lane-level', ...HOSTILE_SAMPLE_KINDS].join('|');
  const usage = `usage: samples <${kinds}> <out.parquet> [rows] [seed]\n       samples formats [dir] [rows]`;
  if (!kind || !out) {
    process.stderr.write(usage + '\n');
    return 2;
  }
  const rows = rowsArg === undefined ? undefined : Number(rowsArg);
  const seed = seedArg === undefined ? undefined : Number(seedArg);
  if ((rows !== undefined && !(rows > 0)) || (seed !== undefined && !Number.isFinite(seed))) {
    process.stderr.write(`rows must be a positive number and seed a number\n${usage}\n`);
    return 2;
  }
  let bytes: Uint8Array;
  if (kind === 'valid' && rows !== undefined && rows > LARGE_SAMPLE_ROWS) {
    // Too large to build in memory: written one row group at a time.
    writeValidSampleFile(out, { rows, seed });
    process.stdout.write(`wrote ${out} (${kind}, ${rows} rows, ${statSync(out).size} bytes)\n`);
    return 0;
  }
  if (kind === 'lane-level') bytes = laneLevelSample({ rows, seed });
  else if (isRoadSampleKind(kind)) bytes = roadMatchingSample(kind, { rows, seed });
  else if (isHostileSampleKind(kind)) bytes = hostileSample(kind, { points: rows, depth: rows });
  else {
    process.stderr.write(`unknown kind '${kind}'\n${usage}\n`);
    return 2;
  }
  writeFileSync(out, bytes);
  process.stdout.write(`wrote ${out} (${kind}, ${bytes.byteLength} bytes)\n`);
  return 0;
}

/** `formats [dir] [rows]`: every road format sample (format-samples/all.ts), by default into `samples/`. */
async function formatsMain(argv: string[]): Promise<number> {
  const [dir = 'samples', rowsArg] = argv;
  const rows = rowsArg === undefined ? undefined : Number(rowsArg);
  if (rows !== undefined && !(Number.isInteger(rows) && rows >= 4)) {
    process.stderr.write('usage: samples formats [dir] [rows]  (rows: a whole number, at least 4)\n');
    return 2;
  }
  // Loaded here, not at the top: the format samples build on this module's road records.
  const { writeFormatSamples } = await import('./format-samples/all.js');
  for (const file of await writeFormatSamples(dir, rows === undefined ? {} : { rows })) {
    process.stdout.write(
      `wrote ${dir}/${file.name} (${file.broken ? 'broken' : 'valid'}, ${file.bytes} bytes)\n`,
    );
  }
  return 0;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (argv[0] === 'formats') {
    formatsMain(argv.slice(1)).then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      },
    );
  } else {
    process.exitCode = main(argv);
  }
}
