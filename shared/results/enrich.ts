/**
 * The enrichment join: the user's own features, each with its original attributes and geometry, plus GERS
 * ids and match details from GEM's results, written in the user's format. Out of core: GEM's results are
 * indexed by GEM row id in a temporary SQLite database (`gemResults.ts`), then the source is streamed again
 * in its own order and every feature is looked up, so memory stays bounded whatever the file's size (one
 * feature, one Parquet batch of results while indexing, the writer's own buffer and SQLite's page cache).
 *
 * The GEM row ids of a feature are found exactly as `prepareInput` made them: the feature goes through
 * `normaliseFeature` with the run's options (the invariant `shared/formats/prepared.ts` documents). Features
 * that never reached GEM (no rows) are written too, as `unmatched`.
 */
import { yieldToEventLoop } from '../eventLoop.js';
import { type Projection, projectionFor } from '../formats/crs.js';
import { normaliseFeature } from '../formats/normalise.js';
import type { PreparedInput } from '../formats/prepared.js';
import { readerFor, writerFor } from '../formats/registry.js';
import type {
  FeatureSink,
  FeatureSource,
  FormatLimits,
  GersMatch,
  Position,
  SourceFeature,
  SourceFile,
} from '../formats/types.js';
import { CountsCollector, type EnrichmentCounts } from './counts.js';
import { MatchIndex } from './gemResults.js';
import { coverage, enrichmentOf, lineLengthKm } from './matchKind.js';

/** Features joined between two turns of the event loop (a feature takes some microseconds). */
const FEATURES_PER_TURN = 2_000;

/**
 * Read limits for the second pass. Generous on purpose: a feature the first pass read must read the same
 * way again, and one too large for prepare never reached GEM, so it is simply written as unmatched.
 */
export const ENRICH_READ_LIMITS: FormatLimits = {
  maxFeatureBytes: 256 * 1024 * 1024,
  maxVertices: 10_000_000,
  maxFields: 10_000,
  maxDepth: 256,
};

export interface EnrichRequest {
  /** The source file, pinned to the etag prepare read. */
  source: SourceFile;
  prepared: Pick<PreparedInput, 'format' | 'options' | 'layer' | 'crs'>;
  /** GEM's raw results Parquet. */
  results: SourceFile;
  /** The local file to write the enriched output to. */
  outputPath: string;
  /** Scratch space (the match index, writer spill files); the caller removes it. */
  tempDir: string;
  limits?: FormatLimits;
}

export interface EnrichResult {
  counts: EnrichmentCounts;
  /** Features and bytes the writer wrote. */
  written: { features: number; bytes: number };
}

/** Joins GEM's results onto the source and writes the enriched file at `outputPath`; partial files are removed. */
export async function enrichSource(request: EnrichRequest): Promise<EnrichResult> {
  const limits = request.limits ?? ENRICH_READ_LIMITS;
  const index = await MatchIndex.build(request.results, request.tempDir);
  try {
    const { prepared } = request;
    const open = await readerFor(prepared.format);
    const source = await open(request.source, {
      limits,
      tempDir: request.tempDir,
      ...((prepared.layer ?? prepared.options.layer)
        ? { layer: prepared.layer ?? prepared.options.layer }
        : {}),
      ...(prepared.options.wktColumn ? { wktColumn: prepared.options.wktColumn } : {}),
      ...(prepared.options.csvDelimiter ? { csvDelimiter: prepared.options.csvDelimiter } : {}),
      ...(prepared.options.encoding ? { encoding: prepared.options.encoding } : {}),
    });
    try {
      return await joinInto(source, index, request, limits);
    } finally {
      await source.close();
    }
  } finally {
    index.close();
  }
}

async function joinInto(
  source: FeatureSource,
  index: MatchIndex,
  request: EnrichRequest,
  limits: FormatLimits,
): Promise<EnrichResult> {
  const { prepared } = request;
  // The declared CRS as prepare used it: `prepared.crs` null means CRS84 lon/lat.
  const projection = await projectionFor(prepared.crs ?? { kind: 'crs84', source: 'prepared input' });
  const createSink = await writerFor(prepared.options.outputFormat);
  const sink = await createSink({
    path: request.outputPath,
    layer: prepared.layer ?? source.layer ?? layerNameOf(request.source.name),
    fields: source.fields,
    crs: prepared.crs,
    geometryType: source.declaredGeometryType,
    geometryColumn: source.geometryColumn ?? null,
    tempDir: request.tempDir,
  });
  const counts = new CountsCollector();
  try {
    let sinceTurn = 0;
    for await (const feature of source.features()) {
      await writeEnriched(sink, feature, { index, projection, request, limits, counts });
      if (++sinceTurn === FEATURES_PER_TURN) {
        sinceTurn = 0;
        await yieldToEventLoop();
      }
    }
    const written = await sink.finish();
    return { counts: counts.result(index.rowCount), written };
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

interface JoinContext {
  index: MatchIndex;
  projection: Projection;
  request: EnrichRequest;
  limits: FormatLimits;
  counts: CountsCollector;
}

/** One feature: its GEM rows, their matches, the enrichment, written, and counted. */
async function writeEnriched(sink: FeatureSink, feature: SourceFeature, context: JoinContext): Promise<void> {
  const { options } = context.request.prepared;
  const { rows } = normaliseFeature(feature, {
    projection: context.projection,
    limits: context.limits,
    ...(options.idColumn !== undefined ? { idColumn: options.idColumn } : {}),
    ...(options.navigableColumn !== undefined ? { navigableColumn: options.navigableColumn } : {}),
  });
  const matches: GersMatch[] = [];
  const partKm = new Map<number, number>();
  for (const row of rows) {
    matches.push(...context.index.lookup(row.id, row.part));
    partKm.set(row.part, partLengthKm(feature, row.part, context.projection));
  }
  const covered = coverage(matches, partKm);
  const enrichment = enrichmentOf(matches, covered);
  await sink.write({
    id: feature.id,
    geometry: feature.geometry,
    properties: feature.properties,
    enrichment,
    matches,
  });
  let km = 0;
  for (const length of partKm.values()) km += length;
  context.counts.add({
    kind: enrichment.match,
    km,
    covered,
    gemRows: rows.length,
    matches: matches.length,
    confidence: enrichment.confidence,
  });
}

/** The geodesic length of one part of a line feature, after projection to lon/lat (as GEM saw it). */
function partLengthKm(feature: SourceFeature, part: number, projection: Projection): number {
  const g = feature.geometry;
  const line: Position[] | undefined =
    g?.type === 'LineString'
      ? g.coordinates
      : g?.type === 'MultiLineString'
        ? g.coordinates[part]
        : undefined;
  if (!line) return 0;
  const lonLat = projection.isLonLat ? line : line.map((p) => projection.toLonLat(p[0]!, p[1]!));
  return lineLengthKm(lonLat);
}

/** A layer name from the file name when the source names none: its stem, or `roads`. */
function layerNameOf(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  const stem = (dot > 0 ? base.slice(0, dot) : base).replace(/[^A-Za-z0-9_]/g, '_');
  return stem || 'roads';
}
