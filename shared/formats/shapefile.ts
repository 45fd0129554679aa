/**
 * Shapefiles in a zip, read in place: the archive's directory through `SourceFile.slice` (`./zipArchive.ts`),
 * then the chosen layer's `.shp` and `.dbf` entries as two inflating streams read record by record in step
 * (`.shx` is not needed for a front-to-back read). The layer is the archive's only `.shp` or the one the
 * `layer` option names; `.prj` gives the CRS as WKT (none → null, so the normaliser asks for `sourceCrs`);
 * `.cpg`, the `encoding` option or the DBF's language driver give the text encoding (`./dbfEncoding.ts`).
 * gem-flow reads the records itself (`./shpGeometry.ts`, `./dbf.ts`): the `shapefile` package drops Z and
 * M and trusts every record length, and `@loaders.gl/shapefile` allocates from claimed part counts.
 * Records deleted in the DBF are skipped (as GDAL does); their position still counts in `index`.
 * Shapefile is input only: its enriched output is a GeoPackage.
 */
import { ChunkReader } from './chunkReader.js';
import { type DbfHeader, dbfFieldInfos, decodeDbfRecord, readDbfHeader, readDbfRecord } from './dbf.js';
import { type DbfEncoding, resolveDbfEncoding } from './dbfEncoding.js';
import { FormatError } from './errors.js';
import { problemFrom } from './featureProblem.js';
import { declaredShapeType, isKnownShapeType, parseShape } from './shpGeometry.js';
import type {
  CrsDeclaration,
  FeatureSource,
  FieldInfo,
  FormatLimits,
  GeometryType,
  OpenFeatureSource,
  PropertyValue,
  SourceFeature,
  SourceNote,
} from './types.js';
import { ZipArchive } from './zipArchive.js';

const SHP_FILE_CODE = 9994;
/** `.prj` and `.cpg` files are a few hundred bytes; anything far larger is not one. */
const MAX_SIDECAR_BYTES = 256 * 1024;

interface LayerFiles {
  /** The path without its extension, as in the archive. */
  base: string;
  shp?: string;
  shx?: string;
  dbf?: string;
  prj?: string;
  cpg?: string;
}

/** Groups the archive's entries into layers by base name; macOS resource forks are left out. */
export function shapefileLayers(paths: readonly string[]): LayerFiles[] {
  const layers = new Map<string, LayerFiles>();
  for (const path of paths) {
    if (path.startsWith('__MACOSX/') || /(^|\/)\._/.test(path)) continue;
    const match = /^(.*)\.(shp|shx|dbf|prj|cpg)$/i.exec(path);
    if (!match) continue;
    const key = match[1]!.toLowerCase();
    const layer = layers.get(key) ?? { base: match[1]! };
    layer[match[2]!.toLowerCase() as 'shp' | 'shx' | 'dbf' | 'prj' | 'cpg'] = path;
    layers.set(key, layer);
  }
  return [...layers.values()];
}

const layerName = (layer: LayerFiles): string => layer.base.split('/').at(-1)!;

function chooseLayer(layers: LayerFiles[], requested: string | undefined, archive: string): LayerFiles {
  const withShp = layers.filter((l) => l.shp);
  const names = withShp.map((l) => `'${layerName(l)}'`).join(', ');
  let chosen: LayerFiles | undefined;
  if (requested !== undefined) {
    const wanted = requested.replace(/\.shp$/i, '').toLowerCase();
    chosen = withShp.find((l) => l.base.toLowerCase() === wanted || layerName(l).toLowerCase() === wanted);
    if (!chosen) {
      throw new FormatError('layer-missing', `${archive} holds no Shapefile named '${requested}'.`, {
        remedy: withShp.length
          ? `Set the layer option to one of ${names}.`
          : 'Zip the Shapefile’s own files.',
      });
    }
  } else if (withShp.length > 1) {
    throw new FormatError('layer-ambiguous', `${archive} holds ${withShp.length} Shapefiles: ${names}.`, {
      remedy: 'Set the layer option to the one holding the roads, or zip only that one.',
    });
  } else chosen = withShp[0];
  if (!chosen) {
    const dbfOnly = layers.find((l) => l.dbf);
    throw new FormatError(
      'shapefile-shp-missing',
      dbfOnly
        ? `${archive} holds ${layerName(dbfOnly)}.dbf but no .shp beside it.`
        : `${archive} holds no Shapefile (.shp).`,
      { remedy: 'Zip the .shp, .shx, .dbf and .prj files of the layer together.' },
    );
  }
  if (!chosen.dbf) {
    throw new FormatError(
      'shapefile-dbf-missing',
      `${layerName(chosen)}.shp has no ${layerName(chosen)}.dbf beside it in ${archive}.`,
      {
        remedy:
          'Add the .dbf (the attribute table) to the zip: without it the roads have no attributes or ids.',
      },
    );
  }
  return chosen;
}

export const openShapefile: OpenFeatureSource = async (file, options) => {
  const zip = await ZipArchive.open(file);
  try {
    const layer = chooseLayer(shapefileLayers(zip.entries().map((e) => e.path)), options.layer, file.name);
    const crs = layer.prj ? await readPrj(zip, layer.prj) : null;
    const cpg = layer.cpg
      ? new TextDecoder('latin1').decode(await zip.readSmall(layer.cpg, MAX_SIDECAR_BYTES))
      : null;
    const shp = new ChunkReader(await zip.open(layer.shp!));
    const dbf = new ChunkReader(await zip.open(layer.dbf!));
    const shapeType = await readShpHeader(shp, `${layerName(layer)}.shp`);
    let encoding: DbfEncoding | undefined;
    const header = await readDbfHeader(
      dbf,
      (driver) => {
        encoding = resolveDbfEncoding(cpg, options.encoding, driver);
        return encoding.decode;
      },
      options.limits,
      `${layerName(layer)}.dbf`,
    );
    return new ShapefileSource(
      zip,
      layerName(layer),
      crs,
      shapeType,
      shp,
      dbf,
      header,
      encoding!.notes,
      options.limits,
    );
  } catch (error) {
    zip.close();
    throw error;
  }
};

async function readPrj(zip: ZipArchive, path: string): Promise<CrsDeclaration | null> {
  const wkt = new TextDecoder('utf-8').decode(await zip.readSmall(path, MAX_SIDECAR_BYTES)).trim();
  return wkt === '' ? null : { kind: 'wkt', wkt, source: path.split('/').at(-1)! };
}

/** The 100-byte main file header: big-endian file code 9994, then the little-endian shape type at 32. */
async function readShpHeader(reader: ChunkReader, name: string): Promise<number> {
  const header = await reader.read(100);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (header.byteLength < 100 || view.getInt32(0, false) !== SHP_FILE_CODE) {
    throw new FormatError(
      'shapefile-shp-invalid',
      `${name} is not a Shapefile main file (no 9994 file code).`,
      {
        remedy: 'Export the Shapefile again from your GIS and zip all of its files.',
      },
    );
  }
  const shapeType = view.getInt32(32, true);
  if (!isKnownShapeType(shapeType)) {
    throw new FormatError(
      'shapefile-shp-invalid',
      `${name} declares shape type ${shapeType}, which the specification does not define.`,
    );
  }
  return shapeType;
}

class ShapefileSource implements FeatureSource {
  readonly format = 'shapefile' as const;
  readonly fields: readonly FieldInfo[];
  readonly declaredGeometryType: GeometryType | null;
  readonly declaredFeatureCount: number;
  private closed = false;

  constructor(
    private readonly zip: ZipArchive,
    readonly layer: string,
    readonly crs: CrsDeclaration | null,
    shapeType: number,
    private readonly shp: ChunkReader,
    private readonly dbf: ChunkReader,
    private readonly header: DbfHeader,
    readonly notes: readonly SourceNote[],
    private readonly limits: FormatLimits,
  ) {
    this.fields = dbfFieldInfos(header);
    this.declaredGeometryType = declaredShapeType(shapeType);
    this.declaredFeatureCount = header.recordCount;
  }

  async *features(): AsyncIterable<SourceFeature> {
    try {
      for (let index = 0; ; index++) {
        const shape = await this.nextShape();
        const record = await readDbfRecord(this.dbf, this.header);
        if (shape === null && record === null) return;
        if (record?.deleted) continue;
        yield this.toFeature(index, shape, record?.bytes ?? null);
        if (shape?.last) return;
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.shp.close(), this.dbf.close()]);
    this.zip.close();
  }

  /** The next record's content, a problem, or null at the end of the .shp. */
  private async nextShape(): Promise<{
    content?: DataView;
    problem?: SourceFeature['problem'];
    last?: boolean;
  } | null> {
    const head = await this.shp.read(8);
    if (head.byteLength === 0) return null;
    if (head.byteLength < 8)
      return {
        problem: { rule: 'feature-truncated', message: 'the .shp ends inside a record header' },
        last: true,
      };
    const length = 2 * new DataView(head.buffer, head.byteOffset, 8).getInt32(4, false);
    if (length < 0 || length > this.limits.maxFeatureBytes) {
      const skipped = length < 0 ? 0 : await this.shp.skip(length);
      const message = `the shape takes ${length} bytes, more than the ${this.limits.maxFeatureBytes} allowed`;
      return {
        problem: { rule: length < 0 ? 'geometry-unreadable' : 'feature-too-large', message },
        last: length < 0 || skipped < length,
      };
    }
    const content = await this.shp.read(length);
    if (content.byteLength < length) {
      return {
        problem: { rule: 'feature-truncated', message: 'the .shp ends inside this shape' },
        last: true,
      };
    }
    return { content: new DataView(content.buffer, content.byteOffset, content.byteLength) };
  }

  private toFeature(
    index: number,
    shape: { content?: DataView; problem?: SourceFeature['problem'] } | null,
    record: Uint8Array | null,
  ): SourceFeature {
    const properties: Record<string, PropertyValue> = {};
    for (const field of this.header.fields) properties[field.name] = null;
    const feature: SourceFeature = { index, id: null, geometry: null, properties };
    if (record === null) {
      feature.problem = { rule: 'property-unreadable', message: 'the .dbf has no record for this shape' };
    } else {
      try {
        decodeDbfRecord(record, this.header, properties);
      } catch (error) {
        feature.problem = problemFrom(error, 'property-unreadable');
      }
    }
    if (shape === null) {
      feature.problem ??= { rule: 'geometry-unreadable', message: 'the .shp has no shape for this record' };
    } else if (shape.problem) feature.problem ??= shape.problem;
    else {
      try {
        feature.geometry = parseShape(shape.content!, this.limits.maxVertices);
      } catch (error) {
        feature.problem ??= problemFrom(error, 'geometry-unreadable');
      }
    }
    return feature;
  }
}
