/**
 * Which module reads and writes each format. Modules are imported on first use, so the app's entry never
 * loads a format library it does not need (cold start), and an ES-module-only library is reached through
 * `import()`.
 */
import { FormatError } from './errors.js';
import type { CreateFeatureSink, InputFormat, OpenFeatureSource, OutputFormat } from './types.js';

export async function readerFor(format: InputFormat): Promise<OpenFeatureSource> {
  switch (format) {
    case 'gem-parquet':
      return (await import('./gemParquet.js')).openGemParquet;
    case 'geoparquet':
      return (await import('./geoparquet.js')).openGeoParquet;
    case 'geojson':
      return (await import('./geojson.js')).openGeoJson;
    case 'geojsonseq':
      return (await import('./geojson.js')).openGeoJsonSeq;
    case 'csv':
      return (await import('./csv.js')).openCsv;
    case 'flatgeobuf':
      return (await import('./flatgeobuf.js')).openFlatGeobuf;
    case 'shapefile':
      return (await import('./shapefile.js')).openShapefile;
    case 'geopackage':
      return (await import('./geopackage.js')).openGeoPackage;
    default:
      throw new FormatError('format-unsupported', `gem-flow cannot read ${format} files yet.`);
  }
}

export async function writerFor(format: OutputFormat): Promise<CreateFeatureSink> {
  switch (format) {
    case 'geoparquet':
      return (await import('./geoparquet.js')).createGeoParquetSink;
    case 'geojson':
      return (await import('./geojson.js')).createGeoJsonSink;
    case 'csv':
      return (await import('./csv.js')).createCsvSink;
    case 'flatgeobuf':
      return (await import('./flatgeobuf.js')).createFlatGeobufSink;
    case 'geopackage':
      return (await import('./geopackage.js')).createGeoPackageSink;
    default:
      throw new FormatError('format-unsupported', `gem-flow cannot write ${format} files yet.`);
  }
}
