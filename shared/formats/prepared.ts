/**
 * What the `prepareInput` step hands to the rest of a run: how the user's own file was read and turned into
 * GEM-ready Parquet, recorded once so staging stages the prepared file and delivery can read the source again
 * the same way to join GEM's matches back onto the user's features. Everything here is plain JSON (it is an
 * orchestration value, stored in the task hub) and holds no secret and no SAS.
 *
 * The join relies on one invariant: reading `source` with `read` and passing each feature through
 * `normaliseFeature` (shared/formats/normalise.ts) with `normalise` gives the same GEM row ids, in the same
 * order, as the prepared Parquet holds — normalisation is a pure function of the feature and these options.
 */

import type { CrsDeclaration, InputFormat, OutputFormat } from './types.js';

/** The user's format options, as they travel in blob metadata, the `POST /api/matches` body and settings. */
export interface FormatOptions {
  /** GeoPackage table, or the `.shp` base name inside a Shapefile zip. */
  layer?: string;
  /** The attribute holding each road's id; default the source's own feature id, else a generated one. */
  idColumn?: string;
  /** The attribute holding navigability (mapping documented in the README). */
  navigableColumn?: string;
  /** CSV: the WKT column; default detected from the header. */
  wktColumn?: string;
  /** CSV: the delimiter; default detected. */
  csvDelimiter?: string;
  /** Shapefile: the DBF encoding when there is no `.cpg`. */
  encoding?: string;
  /** Overrides the CRS the source declares: `EPSG:<code>`. */
  sourceCrs?: string;
  /** The enriched output's format; default follows the input (DEFAULT_OUTPUT_FORMAT). */
  outputFormat?: OutputFormat;
}

/** The prepared input of one run, as `prepareInput` returns it and `deliverResults` receives it. */
export interface PreparedInput {
  /** The format detected from the source's content (then its extension). */
  format: InputFormat;
  /** The source as read: the inbox blob, pinned to the etag validation saw. */
  source: { container: string; name: string; etag: string };
  /** The options applied, defaults resolved (`outputFormat` always set). */
  options: FormatOptions & { outputFormat: OutputFormat };
  /** The layer read, or null. */
  layer: string | null;
  /** The CRS the features were reprojected from (the enriched output declares it), or null for CRS84. */
  crs: CrsDeclaration | null;
  /**
   * The GEM-ready Parquet: a content-addressed blob the run stages instead of the source. For GEM's own
   * Parquet it is the source itself (nothing is rewritten).
   */
  prepared: { container: string; name: string; etag: string; byteLength: number };
  /** Features read from the source. */
  featureCount: number;
  /** GEM rows written (MultiLineStrings exploded into one row per part). */
  gemRowCount: number;
}
