/**
 * The one door to the `flatgeobuf` package, which ships as ES modules only (see `shared/parquet/hyparquet.ts`
 * for why a dynamic `import()` and not `require`). Only its generated FlatBuffers tables are loaded, by their
 * own paths: the package's main entry also re-exports its OpenLayers adapter, which imports `ol`, an optional
 * dependency the deployment leaves out. The tables (`Header`, `Feature`, `Geometry`, `Column`, `Crs`) are the
 * format's schema compiled by `flatc`, so reading and writing through them keeps gem-flow byte-compatible with
 * the reference implementation without copying it.
 */
type HeaderModule = typeof import('flatgeobuf/lib/mjs/flat-geobuf/header.js');
type FeatureModule = typeof import('flatgeobuf/lib/mjs/flat-geobuf/feature.js');
type GeometryModule = typeof import('flatgeobuf/lib/mjs/flat-geobuf/geometry.js');
type ColumnModule = typeof import('flatgeobuf/lib/mjs/flat-geobuf/column.js');
type CrsModule = typeof import('flatgeobuf/lib/mjs/flat-geobuf/crs.js');
type PackedRTreeModule = typeof import('flatgeobuf/lib/mjs/packedrtree.js');

export interface FlatGeobufTables {
  Header: HeaderModule['Header'];
  Feature: FeatureModule['Feature'];
  Geometry: GeometryModule['Geometry'];
  Column: ColumnModule['Column'];
  Crs: CrsModule['Crs'];
  /** Bytes of the packed Hilbert R-tree that follows the header (never call it with 0 items: it loops). */
  calcTreeSize: PackedRTreeModule['calcTreeSize'];
}

let loading: Promise<FlatGeobufTables> | undefined;

export function loadFlatGeobufTables(): Promise<FlatGeobufTables> {
  loading ??= Promise.all([
    import('flatgeobuf/lib/mjs/flat-geobuf/header.js'),
    import('flatgeobuf/lib/mjs/flat-geobuf/feature.js'),
    import('flatgeobuf/lib/mjs/flat-geobuf/geometry.js'),
    import('flatgeobuf/lib/mjs/flat-geobuf/column.js'),
    import('flatgeobuf/lib/mjs/flat-geobuf/crs.js'),
    import('flatgeobuf/lib/mjs/packedrtree.js'),
  ]).then(([header, feature, geometry, column, crs, rtree]) => ({
    Header: header.Header,
    Feature: feature.Feature,
    Geometry: geometry.Geometry,
    Column: column.Column,
    Crs: crs.Crs,
    calcTreeSize: rtree.calcTreeSize,
  }));
  return loading;
}
