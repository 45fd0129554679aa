/**
 * The prepared input of a run on GEM's own Parquet, which needs no preparing: the source is what GEM read, so
 * the record only pins it for the join (format `gem-parquet`, output GeoParquet with the geometry parsed from
 * the WKT). Pure and deterministic, so the orchestrator can build it on replay from its own state. Runs on a
 * file already in PDG storage, and lane-level jobs (whose results are per trace, not per road), have none.
 */
import type { PreparedInput } from '../formats/prepared.js';
import type { OutputFormat } from '../formats/types.js';
import type { MatchInput, StageInputResult } from '../workflow/types.js';

export function gemParquetPreparedInput(
  request: MatchInput,
  staged: StageInputResult,
  rowCount: number | null,
): PreparedInput | undefined {
  if (request.source.kind !== 'inbox' || request.jobType !== 'ROAD_MATCHING') return undefined;
  const source = {
    container: request.source.container,
    name: request.source.blobName,
    etag: request.source.etag ?? '',
  };
  return {
    format: 'gem-parquet',
    source,
    // GEM's own Parquet comes back as GeoParquet (DEFAULT_OUTPUT_FORMAT in shared/formats/types.ts); written
    // out here because the orchestrator imports this module and must not load the format library.
    options: { outputFormat: 'geoparquet' satisfies OutputFormat },
    layer: null,
    crs: null,
    prepared: { ...source, byteLength: staged.size ?? 0 },
    featureCount: rowCount ?? 0,
    gemRowCount: rowCount ?? 0,
  };
}
