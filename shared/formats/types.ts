/**
 * The user's own road data, whatever format it arrives in, as one stream of features, and the user's own
 * format on the way back. Readers (one module per format) turn a source file into a `FeatureSource`;
 * writers turn `OutputFeature`s into a file. Everything between — normalising to GEM-ready Parquet,
 * reprojecting, joining GEM's matches back — sees only these types, so adding a format never touches the
 * workflow.
 *
 * Memory rules every reader and writer follows: features are streamed (never a whole file in memory), and
 * every allocation is bounded by bytes actually read and by `FormatLimits`, never by a count the file claims.
 */

export const INPUT_FORMATS = [
  /** GEM's own input: Parquet with `id`, WKT `geometry` (EPSG:4326) and optional `is_navigable`. */
  'gem-parquet',
  /** Parquet with a WKB or WKT geometry column and GeoParquet `geo` metadata (CRS as PROJJSON). */
  'geoparquet',
  /** A GeoJSON FeatureCollection (RFC 7946: always WGS 84 lon/lat). */
  'geojson',
  /** Newline-delimited GeoJSON features (GeoJSONSeq, RFC 8142; also plain NDJSON). */
  'geojsonseq',
  /** CSV with a WKT geometry column. */
  'csv',
  'flatgeobuf',
  /** A `.zip` holding `.shp`, `.shx`, `.dbf`, and optionally `.prj` and `.cpg`. */
  'shapefile',
  'geopackage',
] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export const OUTPUT_FORMATS = ['geoparquet', 'geojson', 'csv', 'flatgeobuf', 'geopackage'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

// ---- Geometry (GeoJSON's model; coordinates in the source CRS, Z and M kept as read) ----

/** `[x, y]`, `[x, y, z]` or `[x, y, z, m]`; `[x, y, m]` is normalised by readers to `[x, y, NaN, m]`. */
export type Position = number[];

export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'MultiLineString'; coordinates: Position[][] }
  | { type: 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }
  | { type: 'GeometryCollection'; geometries: Geometry[] };

export type GeometryType = Geometry['type'];

// ---- Coordinate reference systems ----

/** What a source declares about its CRS, as declared; `shared/formats/crs.ts` turns it into a projection. */
export type CrsDeclaration =
  /** An authority code, e.g. a GeoPackage SRS row with organization EPSG, or a user's `sourceCrs` option. */
  | { kind: 'epsg'; code: number; source: string }
  /** WKT1 or WKT2 text: a Shapefile's `.prj`, a GeoPackage SRS definition. */
  | { kind: 'wkt'; wkt: string; source: string }
  /** GeoParquet's `crs` member. */
  | { kind: 'projjson'; projjson: Record<string, unknown>; source: string }
  /** OGC:CRS84 (WGS 84 lon/lat), GeoJSON's only CRS and GeoParquet's default. */
  | { kind: 'crs84'; source: string };

// ---- Features in ----

export type PropertyValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | Uint8Array
  | PropertyValue[]
  | { [key: string]: PropertyValue };

export type FieldType =
  | 'string'
  | 'integer'
  | 'bigint'
  | 'number'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'binary'
  /** Anything nested (arrays, objects): kept as JSON where a format has no nested type. */
  | 'json';

export interface FieldInfo {
  name: string;
  type: FieldType;
}

/** A feature a reader could not decode whole; the feature is still yielded so counts and indexes stay true. */
export interface FeatureProblem {
  /** A stable rule id, e.g. `geometry-unreadable`, `feature-too-large`, `property-unreadable`. */
  rule: string;
  message: string;
}

export interface SourceFeature {
  /** 0-based position among the source's features: the row, record or feature number, counted from 0. */
  index: number;
  /**
   * The source's own feature id where the format has one (a GeoJSON Feature `id`, a GeoPackage `fid`), else
   * null. Attribute columns named `id` are properties, not this.
   */
  id: string | number | null;
  geometry: Geometry | null;
  /** Every attribute, in source order, with the source's own names. */
  properties: Record<string, PropertyValue>;
  /** Set when part of the feature could not be read; `geometry` is then null or partial as documented. */
  problem?: FeatureProblem;
}

/** Something a reader decided or worked around that the user should know (the DBF encoding it used, …). */
export interface SourceNote {
  rule: string;
  message: string;
}

export interface FeatureSource {
  readonly format: InputFormat;
  /** The layer read (GeoPackage table, Shapefile base name, FlatGeobuf/GeoJSON name), or null. */
  readonly layer: string | null;
  /** The CRS the source declares, or null when it declares none (then an explicit option must say). */
  readonly crs: CrsDeclaration | null;
  /** The attribute fields, in source order (the geometry column is not one of them). */
  readonly fields: readonly FieldInfo[];
  /** The geometry type the source declares for the layer, when it does. */
  readonly declaredGeometryType: GeometryType | null;
  /** Features the source states it holds (header, metadata), or null. A claim: never used to allocate. */
  readonly declaredFeatureCount: number | null;
  /**
   * The name the source gives its geometry column, where it names one (the CSV WKT column, the GeoParquet
   * primary column, the GeoPackage geometry column), so the enriched output can use the same name.
   */
  readonly geometryColumn?: string | null;
  /** The features in source order. Call once. */
  features(): AsyncIterable<SourceFeature>;
  /** Releases files and handles; safe to call twice. */
  close(): Promise<void>;
  /** What the reader decided while opening, for the validation report (info, not errors). */
  readonly notes?: readonly SourceNote[];
}

// ---- Reading ----

/**
 * Random and sequential access to one input file, whether it is a blob (ranged GETs) or a local file.
 * `byteLength` + `slice` is hyparquet's AsyncBuffer, so Parquet readers use it as is.
 */
export interface SourceFile {
  /** The name the user gave it (the inbox blob name), for messages and extension hints. */
  readonly name: string;
  readonly byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
  /** The bytes from `start` to the end, as a stream with back-pressure. */
  stream(start?: number): AsyncIterable<Uint8Array>;
  /** A path to the whole file on local disk (downloaded once into `dir` if it is a blob). */
  localPath(dir: string): Promise<string>;
}

/** Bounds every reader enforces; exceeding one is a `FeatureProblem` or a `FormatError`, never a crash. */
export interface FormatLimits {
  /** Largest encoded feature (a GeoJSON feature's text, a CSV row, a WKB value, a FlatGeobuf feature). */
  maxFeatureBytes: number;
  /** Most coordinates in one geometry. */
  maxVertices: number;
  /** Most attribute fields in one layer. */
  maxFields: number;
  /** Deepest nesting of JSON/GeoJSON values. */
  maxDepth: number;
}

export interface ReadOptions {
  limits: FormatLimits;
  /** A scratch directory for formats that need a local file (GeoPackage) or spill to disk; the caller deletes it. */
  tempDir: string;
  /**
   * GeoPackage: the layer (table) to read, default the only line layer. Shapefile zip: the base name of the
   * `.shp` to read when the archive holds several.
   */
  layer?: string;
  /** CSV: the WKT column; default detected from the header (`wkt`, `geometry`, `geom`, `the_geom`, `shape`). */
  wktColumn?: string;
  /** CSV: the delimiter; default detected (`,` `;` tab `|`). */
  csvDelimiter?: string;
  /** Shapefile: the DBF text encoding when there is no `.cpg` (default per the DBF language driver, else UTF-8). */
  encoding?: string;
}

/** A reader's entry point; one per format module, registered in `shared/formats/registry.ts`. */
export type OpenFeatureSource = (file: SourceFile, options: ReadOptions) => Promise<FeatureSource>;

// ---- Features out ----

/** One GEM match of a road, as the enriched output carries it (GEM's text fields parsed). */
export interface GersMatch {
  /** GERS id of the matched Overture segment. */
  gers: string;
  /** GEM's confidence, 0–100. */
  confidence: number;
  /** The matched part of the user's line, as fractions 0–1 of its length (`lr_id`), or null if GEM gave none. */
  lrFrom: number | null;
  lrTo: number | null;
  /** The matched part of the Overture segment (`lr_gers`), fractions 0–1, or null. */
  gersFrom: number | null;
  gersTo: number | null;
  /** For a MultiLineString feature: which part (0-based) of the source geometry this match belongs to. */
  part: number;
}

export type MatchKind = 'full' | 'partial' | 'unmatched';

/** The attributes the enriched output adds to each feature, in this order, after the user's own. */
export interface Enrichment {
  /** The best match's GERS id (highest confidence, then longest matched part), or null when unmatched. */
  gers: string | null;
  confidence: number | null;
  lr_from: number | null;
  lr_to: number | null;
  match: MatchKind;
  match_count: number;
}

export const ENRICHMENT_FIELDS: readonly FieldInfo[] = [
  { name: 'gers', type: 'string' },
  { name: 'confidence', type: 'number' },
  { name: 'lr_from', type: 'number' },
  { name: 'lr_to', type: 'number' },
  { name: 'match', type: 'string' },
  { name: 'match_count', type: 'integer' },
];

export interface OutputFeature {
  /** The source's feature id (written where the format has one). */
  id: string | number | null;
  /** The original geometry, in the source CRS, unchanged. */
  geometry: Geometry | null;
  /** The user's own attributes, unchanged. */
  properties: Record<string, PropertyValue>;
  enrichment: Enrichment;
  /**
   * Every match, in GEM's order. GeoParquet: a nested list column `matches`; GeoJSON: a `matches` property
   * array; GeoPackage: rows of a side table `<layer>_matches` keyed by the feature's fid; FlatGeobuf and CSV: a
   * `matches` JSON text column.
   */
  matches: GersMatch[];
}

export interface SinkOptions {
  /** The local file to write; uploaded by the caller when `finish` resolves. */
  path: string;
  /** Layer/table name (GeoPackage table, FlatGeobuf name). */
  layer: string;
  /** The user's fields, as the source declared them; the writer appends `ENRICHMENT_FIELDS` (and `matches`). */
  fields: readonly FieldInfo[];
  /** The CRS to declare: the source's own (geometries are written unchanged). */
  crs: CrsDeclaration | null;
  /** The source's declared geometry type, when one was declared (GeoPackage, FlatGeobuf headers). */
  geometryType: GeometryType | null;
  /** The geometry column's name for formats that name it (CSV, GeoParquet, GeoPackage): the source's own. */
  geometryColumn?: string | null;
  /** Scratch space for writers that need it. */
  tempDir: string;
}

export interface FeatureSink {
  write(feature: OutputFeature): Promise<void>;
  /** Completes the file (footers, indexes, counts); the file is valid only after this resolves. */
  finish(): Promise<{ features: number; bytes: number }>;
  /** Abandons a partial file (deletes it). */
  abort(): Promise<void>;
}

export type CreateFeatureSink = (options: SinkOptions) => Promise<FeatureSink>;

/** The file extension each output format is written with. */
export const OUTPUT_EXTENSIONS: Record<OutputFormat, string> = {
  geoparquet: 'parquet',
  geojson: 'geojson',
  csv: 'csv',
  flatgeobuf: 'fgb',
  geopackage: 'gpkg',
};

/** The output format that follows an input format unless the `outputFormat` option says otherwise. */
export const DEFAULT_OUTPUT_FORMAT: Record<InputFormat, OutputFormat> = {
  'gem-parquet': 'geoparquet',
  geoparquet: 'geoparquet',
  geojson: 'geojson',
  geojsonseq: 'geojson',
  csv: 'csv',
  flatgeobuf: 'flatgeobuf',
  shapefile: 'geopackage',
  geopackage: 'geopackage',
};
