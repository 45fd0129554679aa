/**
 * The fix for each validation rule, in one sentence a data owner can act on, for the results page's table
 * of problems (a problem's own message says what is wrong with the row; this says what to change). Typed by
 * `RuleId`, so a new rule cannot be added without its fix. Pure.
 */
import type { RuleId } from './report.js';

export const RULE_FIXES: Record<RuleId, string> = {
  'parquet-readable': 'Re-export the file as Parquet (pyarrow, GDAL or Spark) and upload it again.',
  'footer-size': 'Write fewer row groups or columns (VALIDATION_MAX_FOOTER_BYTES bounds the footer).',
  'schema-depth': 'Flatten the nested columns: GEM reads flat id, geometry and is_navigable columns.',
  'schema-width': 'Drop the columns GEM does not read; keep id, geometry and is_navigable.',
  'rows-present': 'The file has no rows: export the roads again.',
  'row-limit': 'Split the file into files of at most VALIDATION_MAX_ROWS rows.',
  'row-group-size': 'Write smaller row groups (pyarrow: row_group_size=100_000).',
  'page-size': 'Write smaller pages (pyarrow: data_page_size) or smaller row groups.',
  'row-size': 'Simplify or split the road: one row is larger than VALIDATION_MAX_ROW_BYTES.',
  'value-size':
    'Simplify or split the geometry (or shorten the id): it is larger than VALIDATION_MAX_VALUE_BYTES.',
  'id-present': 'Add an "id" column with one unique value per road.',
  'id-type': 'Write "id" as int32, int64 or string (pyarrow pa.int64() or pa.string()).',
  'id-not-null': 'Give every road an id.',
  'id-unique': 'Make the ids unique: each road needs its own.',
  'geometry-present': 'Add a "geometry" column holding WKT LINESTRING text.',
  'geometry-type': 'Write "geometry" as WKT text (a string column), not WKB or a GeoParquet geometry.',
  'geometry-not-null': 'Give every road a geometry, or drop the row.',
  'geometry-wkt-linestring': 'Write the geometry as WKT LINESTRING (lon lat, lon lat, …) in EPSG:4326.',
  'geometry-min-points': 'A road needs at least two points: fix or drop the row.',
  'geometry-coordinate-range': 'Reproject to EPSG:4326 and write longitude first (−180…180, then −90…90).',
  'is-navigable-type': 'Write "is_navigable" as a boolean column, or leave it out.',
  'points-present': 'Add a "points" column: the trace’s points in driving order.',
  'points-type': 'Write "points" as a list of structs {coord {x, y}, heading, lane, timestamp, velocity}.',
  'csv-header': 'Give the CSV the header row the lane-level format documents.',
};
