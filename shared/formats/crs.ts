/**
 * From what a source declares about its CRS to a projection onto WGS 84 lon/lat (EPSG:4326), with proj4js
 * doing every piece of projection and datum math and the `epsg-index` registry (the EPSG dataset as
 * epsg.io publishes it) supplying definitions by code. Nothing here computes a projection itself.
 *
 * Rules, in order:
 * - **Axis order.** Coordinates are always read as x = east/longitude, y = north/latitude, whatever axis
 *   order the authority defines. EPSG:4326 is lat/lon in the EPSG registry, but GeoJSON (RFC 7946 §3.1.1),
 *   GeoParquet (its spec's "crs" section: (x, y) is (longitude, latitude) or (easting, northing)), Shapefile
 *   `.prj`, GeoPackage and FlatGeobuf data all store x first, as GDAL's "traditional GIS order" does. So any
 *   `+axis` of a registry definition, and the axis list of a WKT2/PROJJSON definition, is overridden to
 *   east-north-up.
 * - **By code where there is one.** An EPSG code (declared, in the `sourceCrs` option, or as the top-level
 *   `AUTHORITY`/`ID`/`id` of a WKT or PROJJSON definition) is resolved through the registry, not through the
 *   definition's own parameters, which often lack the datum shift (a PROJJSON from GeoParquet usually does).
 * - **Datum shifts from proj4js first.** proj4js keeps a table of datum shifts per geographic CRS
 *   (`EPSG_<code>`), taken from PROJ's preferred transformations. Where it has one for the definition's base
 *   geographic CRS, it replaces the registry's `+towgs84`, which epsg.io exports wrongly for some codes
 *   (EPSG:28992's rotations are in microradians where arc-seconds are meant: 150 m off). A definition that
 *   needs a grid file (`+nadgrids`) gdal would download is given the table's shift instead, or refused.
 * - **ESRI `.prj` files** carry no AUTHORITY and no TOWGS84, only names (`GCS_Amersfoort`, `D_Amersfoort`).
 *   The geographic CRS's name is looked up in Esri's own projection-engine list (`@esri/proj-codes`, the
 *   names ArcGIS and QGIS write) to find its EPSG code, and that code's datum shift (proj4js's, else the
 *   registry's) is added to the definition as a `TOWGS84`.
 * - **No silent datum guesses.** A WKT/PROJJSON definition on a datum proj4js does not know and that carries
 *   no `TOWGS84`, and whose geographic CRS cannot be identified as above, is refused (`crs-datum-unknown`)
 *   unless its ellipsoid is WGS 84 or GRS 80 (ETRS89, NAD83, GDA94…: within about a metre of WGS 84, below
 *   what road matching resolves), instead of being reprojected tens or hundreds of metres off. The fix is
 *   the `sourceCrs` option with the EPSG code.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import proj4 from 'proj4';
import { FormatError } from './errors.js';
import type { CrsDeclaration } from './types.js';

/** A projection of source coordinates onto WGS 84 lon/lat. */
export interface Projection {
  /** True when the source is already WGS 84 lon/lat: positions are used as they are. */
  readonly isLonLat: boolean;
  /** What the projection is, for messages: `EPSG:28992 (Amersfoort / RD New)`, `OGC:CRS84`, a WKT name. */
  readonly label: string;
  /** The proj4js definition used (a proj4 string, WKT or PROJJSON), so tests can project independently. */
  readonly definition: string | Record<string, unknown>;
  /** Source (x, y) to [lon, lat]; non-finite numbers where the point is outside the projection's domain. */
  toLonLat(x: number, y: number): [number, number];
}

const CRS_REMEDY =
  'Set the sourceCrs option to the EPSG code of the data (for example "EPSG:28992" for RD New, ' +
  '"EPSG:3857" for Web Mercator, "EPSG:4326" for WGS 84 lon/lat).';

const LON_LAT: Projection = {
  isLonLat: true,
  label: 'OGC:CRS84 (WGS 84 lon/lat)',
  definition: 'EPSG:4326',
  toLonLat: (x, y) => [x, y],
};

/** proj4js's projection object: only the fields read here. */
interface ProjObject {
  projName?: string;
  axis?: string;
  datumCode?: string;
  datum_params?: unknown[];
  nadgrids?: string;
  a?: number;
  rf?: number;
  b?: number;
  from_greenwich?: number;
  to_meter?: number;
  title?: string;
  name?: string;
  srsCode?: string;
}

// ---- The registry ----

interface RegistryEntry {
  code: string;
  kind: string;
  name: string;
  wkt: string;
  proj4: string;
}

let registryDir: string | undefined;
const registryCache = new Map<number, Promise<RegistryEntry | null>>();

/** One EPSG entry from `epsg-index` (one small JSON file per code; the 8 MB `all.json` is never loaded). */
export function registryEntry(code: number): Promise<RegistryEntry | null> {
  if (!Number.isInteger(code) || code <= 0 || code > 99_999_999) return Promise.resolve(null);
  let pending = registryCache.get(code);
  if (!pending) {
    registryDir ??= join(dirname(require.resolve('epsg-index/package.json')), 's');
    pending = readFile(join(registryDir, `${code}.json`), 'utf8').then(
      (text) => JSON.parse(text) as RegistryEntry,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      },
    );
    registryCache.set(code, pending);
  }
  return pending;
}

/** The towgs84 proj4js keeps for a geographic CRS, e.g. EPSG:4289 (Amersfoort), or undefined. */
function proj4DatumShift(geographicCode: number): string | undefined {
  const probe = makeProj(`+proj=longlat +datum=EPSG_${geographicCode}`);
  const params = probe?.datum_params;
  return Array.isArray(params) && params.length >= 3 ? params.map(Number).join(',') : undefined;
}

/** The code of the base geographic CRS in a WKT1 `GEOGCS[…, AUTHORITY["EPSG","4289"]]`, if any. */
function baseGeographicCode(wkt: string): number | undefined {
  const geogcs = wkt.indexOf('GEOGCS[');
  if (geogcs < 0) return undefined;
  // The GEOGCS's own AUTHORITY is the last one before the PROJECTION (or the end for a geographic CRS).
  const end = wkt.indexOf('PROJECTION[', geogcs);
  const part = wkt.slice(geogcs, end < 0 ? undefined : end);
  const all = [...part.matchAll(/AUTHORITY\["EPSG","(\d+)"\]/g)];
  const last = all.at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}

/** The registry's proj4 string with proj4js's datum shift, no axis swap and no missing grid file. */
function registryDefinition(entry: RegistryEntry): string {
  let definition = entry.proj4.replace(/\s\+axis=\S+/g, '');
  const base =
    entry.kind === 'CRS-GEOGCRS' || entry.kind === 'CRS-GEOG3DCRS' ? Number(entry.code) : undefined;
  const shift = proj4DatumShift(base ?? baseGeographicCode(entry.wkt) ?? Number.NaN);
  const grid = /\s\+nadgrids=(\S+)/.exec(definition);
  const needsGrid = grid?.[1]?.split(',').some((g) => !g.startsWith('@')) ?? false;
  if (shift) {
    definition = definition.replace(/\s\+towgs84=\S+/g, '');
    if (needsGrid) definition = definition.replace(/\s\+nadgrids=\S+/g, '');
    definition += ` +towgs84=${shift}`;
  } else if (needsGrid) {
    throw new FormatError(
      'crs-grid-missing',
      `EPSG:${entry.code} (${entry.name}) needs the datum grid ${grid?.[1]}, which gem-flow does not ship.`,
      { remedy: 'Reproject the data to a CRS without a grid-based datum (e.g. EPSG:4326) before uploading.' },
    );
  }
  return definition;
}

const SUPPORTED_KINDS = new Set(['CRS-GEOGCRS', 'CRS-GEOG3DCRS', 'CRS-PROJCRS', 'CRS-COMPOUNDCRS']);

async function fromCode(code: number, source: string): Promise<Projection> {
  if (code === 4326 || code === 4979) return { ...LON_LAT, label: `EPSG:${code} (WGS 84)` };
  const entry = await registryEntry(code);
  if (!entry) {
    throw new FormatError('crs-unknown', `${source} names EPSG:${code}, which is not in the EPSG registry.`, {
      remedy: CRS_REMEDY,
    });
  }
  if (!SUPPORTED_KINDS.has(entry.kind)) {
    throw new FormatError(
      'crs-unsupported',
      `${source} names EPSG:${code} (${entry.name}), a ${entry.kind.replace('CRS-', '').toLowerCase()} ` +
        'coordinate system; gem-flow reads geographic and projected 2D coordinates.',
      { remedy: CRS_REMEDY },
    );
  }
  return build(registryDefinition(entry), `EPSG:${code} (${entry.name})`, source);
}

// ---- proj4js ----

function makeProj(definition: string | Record<string, unknown>): ProjObject | undefined {
  try {
    const proj = new proj4.Proj(definition as string) as unknown as ProjObject;
    return proj && typeof proj === 'object' && typeof proj.projName === 'string' ? proj : undefined;
  } catch {
    return undefined;
  }
}

const WGS84_A = 6378137;
const WGS84_RF = 298.257223563;
const GRS80_RF = 298.257222101;

function hasWgs84LikeEllipsoid(proj: ProjObject): boolean {
  if (proj.a === undefined || Math.abs(proj.a - WGS84_A) > 1e-3) return false;
  const rf = proj.rf ?? (proj.b !== undefined && proj.a !== proj.b ? proj.a / (proj.a - proj.b) : Number.NaN);
  return Math.abs(rf - WGS84_RF) < 1e-6 || Math.abs(rf - GRS80_RF) < 1e-6;
}

function hasDatumShift(proj: ProjObject): boolean {
  return (Array.isArray(proj.datum_params) && proj.datum_params.length >= 3) || proj.datumCode === 'wgs84';
}

function isWgs84LonLat(proj: ProjObject): boolean {
  const noShift =
    !Array.isArray(proj.datum_params) ||
    proj.datum_params.every((p) => Number(p) === 0) ||
    !proj.datum_params;
  return (
    proj.projName === 'longlat' &&
    hasWgs84LikeEllipsoid(proj) &&
    noShift &&
    !proj.nadgrids &&
    (proj.from_greenwich ?? 0) === 0
  );
}

function build(definition: string | Record<string, unknown>, label: string, source: string): Projection {
  const proj = makeProj(definition);
  if (!proj) {
    throw new FormatError('crs-unknown', `${source}: the CRS definition of ${label} cannot be read.`, {
      remedy: CRS_REMEDY,
    });
  }
  if (isWgs84LonLat(proj)) return { ...LON_LAT, label, definition };
  // See the module comment: data is always x = east, y = north.
  proj.axis = 'enu';
  const converter = proj4(proj as never, proj4.WGS84 as never);
  return {
    isLonLat: false,
    label,
    definition,
    toLonLat: (x, y) => {
      try {
        const out = converter.forward([x, y]) as number[];
        return [out[0] ?? Number.NaN, out[1] ?? Number.NaN];
      } catch {
        return [Number.NaN, Number.NaN];
      }
    },
  };
}

// ---- ESRI names ----

interface EsriGeographic {
  wkid: number;
  latestWkid?: number;
  name: string;
}

let esriGeographic: Promise<Map<string, number>> | undefined;

/** Esri's geographic CRS names (`GCS_Amersfoort`) → EPSG code; the 1.3 MB list is read once, on first need. */
function esriGeographicCodes(): Promise<Map<string, number>> {
  const path = join(dirname(require.resolve('@esri/proj-codes/package.json')), 'pe_list_geogcs.json');
  esriGeographic ??= readFile(path, 'utf8').then((text) => {
    const list = (JSON.parse(text) as { GeographicCoordinateSystems: EsriGeographic[] })
      .GeographicCoordinateSystems;
    const byName = new Map<string, number>();
    for (const crs of list) {
      const code = crs.latestWkid ?? crs.wkid;
      // Esri's own codes (above 32767) are not EPSG codes: there is no registry entry to take a shift from.
      if (code <= 32767 && !byName.has(crs.name.toLowerCase())) byName.set(crs.name.toLowerCase(), code);
    }
    return byName;
  });
  esriGeographic.catch(() => {
    esriGeographic = undefined;
  });
  return esriGeographic;
}

/** The datum shift of an EPSG geographic CRS: proj4js's (from PROJ) first, else the registry's `+towgs84`. */
async function datumShiftOf(geographicCode: number): Promise<string | undefined> {
  const fromProj4 = proj4DatumShift(geographicCode);
  if (fromProj4) return fromProj4;
  const entry = await registryEntry(geographicCode);
  return entry ? /\+towgs84=(\S+)/.exec(entry.proj4)?.[1] : undefined;
}

/**
 * A WKT1 without a datum shift, with one added from the EPSG code of its geographic CRS, which Esri's
 * projection-engine list gives for the names ArcGIS and QGIS write in a `.prj`. Undefined when the name is
 * not in the list or the code has no known shift.
 */
async function withEsriDatumShift(wkt: string): Promise<{ wkt: string; code: number } | undefined> {
  const name = /GEOGCS\[\s*"([^"]+)"/i.exec(wkt)?.[1];
  const datum = wkt.search(/DATUM\[/i);
  if (!name || datum < 0) return undefined;
  const code = (await esriGeographicCodes()).get(name.toLowerCase());
  const shift = code === undefined ? undefined : await datumShiftOf(code);
  if (code === undefined || !shift) return undefined;
  // TOWGS84[…] goes in as the DATUM's last member, before its closing bracket.
  let depth = 0;
  for (let i = datum; i < wkt.length; i++) {
    if (wkt[i] === '[') depth++;
    else if (wkt[i] === ']' && --depth === 0) {
      return { wkt: `${wkt.slice(0, i)},TOWGS84[${shift}]${wkt.slice(i)}`, code };
    }
  }
  return undefined;
}

/** A definition parsed from its own text (no code): refused when its datum shift would be a guess. */
async function fromDefinition(
  definition: string | Record<string, unknown>,
  label: string,
  source: string,
): Promise<Projection> {
  const proj = makeProj(definition);
  if (!proj) {
    throw new FormatError('crs-unknown', `${source}: the CRS definition cannot be read (${label}).`, {
      remedy: CRS_REMEDY,
    });
  }
  // A WKT that states no TOWGS84 gets the shift of its geographic CRS's EPSG code where Esri's list names
  // it: even where proj4js knows the datum by name, its name table is older than its per-code one
  // (Belge 1972 by name has the signs of the shift reversed, 250 m off).
  if (typeof definition === 'string' && !/TOWGS84\[/i.test(definition)) {
    const shifted = await withEsriDatumShift(definition);
    if (shifted && makeProj(shifted.wkt)) {
      return build(shifted.wkt, `${label} (datum shift of EPSG:${shifted.code})`, source);
    }
  }
  if (!hasDatumShift(proj) && !hasWgs84LikeEllipsoid(proj) && !proj.nadgrids) {
    throw new FormatError(
      'crs-datum-unknown',
      `${source}: ${label} is on a datum without a known shift to WGS 84; reprojecting it would place the ` +
        'roads tens to hundreds of metres off.',
      { remedy: CRS_REMEDY },
    );
  }
  return build(definition, label, source);
}

// ---- Declarations ----

/** The EPSG code a WKT names for itself: the last top-level `AUTHORITY["EPSG","n"]` (WKT1) or `ID["EPSG",n]`. */
export function wktAuthorityCode(wkt: string): number | undefined {
  const text = wkt.trim();
  const match = /(?:AUTHORITY|ID)\[\s*"EPSG"\s*,\s*"?(\d+)"?\s*\]\s*\]\s*$/i.exec(text);
  return match ? Number(match[1]) : undefined;
}

function wktName(wkt: string): string {
  return /^\s*[A-Z_0-9]+\[\s*"([^"]{0,120})"/i.exec(wkt)?.[1] ?? 'an unnamed CRS';
}

function projjsonCode(projjson: Record<string, unknown>): number | undefined {
  const ids = (projjson.id ? [projjson.id] : Array.isArray(projjson.ids) ? projjson.ids : []) as {
    authority?: unknown;
    code?: unknown;
  }[];
  for (const id of ids) {
    if (String(id?.authority).toUpperCase() === 'EPSG' && Number.isInteger(Number(id.code)))
      return Number(id.code);
    if (String(id?.authority).toUpperCase() === 'OGC' && String(id.code).toUpperCase() === 'CRS84')
      return 4326;
  }
  return undefined;
}

/**
 * The projection of a source onto WGS 84 lon/lat. `override` (the `sourceCrs` option) wins over what the
 * file declares. Throws `FormatError` (`crs-missing`, `crs-unknown`, `crs-unsupported`, `crs-datum-unknown`,
 * `crs-grid-missing`) with the fix.
 */
export async function projectionFor(
  declared: CrsDeclaration | null,
  override?: CrsDeclaration | null,
): Promise<Projection> {
  const crs = override ?? declared;
  if (!crs) {
    throw new FormatError(
      'crs-missing',
      'The file does not say which coordinate system its coordinates are in.',
      {
        remedy: CRS_REMEDY,
      },
    );
  }
  switch (crs.kind) {
    case 'crs84':
      return LON_LAT;
    case 'epsg':
      return fromCode(crs.code, crs.source);
    case 'wkt': {
      // proj4js reads a local (engineering) CRS as if it were projected and returns numbers that are no place.
      if (/^\s*(?:LOCAL_CS|ENGCRS|ENGINEERINGCRS)\s*\[/i.test(crs.wkt)) throw localCrs(crs.source);
      const code = wktAuthorityCode(crs.wkt);
      if (code !== undefined) return fromCode(code, crs.source);
      return fromDefinition(crs.wkt, wktName(crs.wkt), crs.source);
    }
    case 'projjson': {
      const code = projjsonCode(crs.projjson);
      if (code !== undefined) return fromCode(code, crs.source);
      const name = typeof crs.projjson.name === 'string' ? crs.projjson.name : 'an unnamed CRS';
      return fromDefinition(crs.projjson, name, crs.source);
    }
  }
}

function localCrs(source: string): FormatError {
  return new FormatError(
    'crs-unsupported',
    `${source} declares a local (engineering) coordinate system, which has no place on the Earth.`,
    { remedy: CRS_REMEDY },
  );
}

/**
 * Parses the `sourceCrs` option: `EPSG:28992`, `epsg:28992`, `28992`, `OGC:CRS84`, `CRS84`, a URN
 * (`urn:ogc:def:crs:EPSG::28992`), or WKT text. Returns null for text that is none of these.
 */
export function parseCrsText(text: string, source: string): CrsDeclaration | null {
  const t = text.trim();
  if (/^(?:OGC:)?CRS84$|^urn:ogc:def:crs:OGC:1\.3:CRS84$/i.test(t)) return { kind: 'crs84', source };
  const code = /^(?:EPSG:{1,2}|urn:ogc:def:crs:EPSG:[\d.]*:)?(\d{4,6})$/i.exec(t)?.[1];
  if (code) return { kind: 'epsg', code: Number(code), source };
  if (/^[A-Z_0-9]+\s*\[/i.test(t)) return { kind: 'wkt', wkt: t, source };
  return null;
}

/**
 * The `crs` member to write in GeoParquet `geo` metadata for a declaration: undefined for CRS84 (the
 * default), the PROJJSON as read for a PROJJSON declaration, and for a code (or WKT naming its code) a
 * PROJJSON carrying the CRS's type, name and `id`, which readers resolve through their own registry.
 * A WKT with no code is written as null ("unknown"), with the WKT kept beside it by the caller.
 */
/** The EPSG code a declaration names (directly, or as a WKT/PROJJSON's own id), if any. */
export function epsgCodeOf(crs: CrsDeclaration | null): number | undefined {
  if (!crs) return undefined;
  switch (crs.kind) {
    case 'epsg':
      return crs.code;
    case 'wkt':
      return wktAuthorityCode(crs.wkt);
    case 'projjson':
      return projjsonCode(crs.projjson);
    case 'crs84':
      return undefined;
  }
}

export async function crsToProjjson(
  crs: CrsDeclaration | null,
): Promise<Record<string, unknown> | null | undefined> {
  if (!crs) return null;
  if (crs.kind === 'crs84') return undefined;
  if (crs.kind === 'projjson') return crs.projjson;
  const code = epsgCodeOf(crs);
  if (code === undefined) return null;
  if (code === 4326) return undefined;
  const entry = await registryEntry(code);
  const type =
    entry?.kind === 'CRS-PROJCRS' ? 'ProjectedCRS' : entry?.kind === 'CRS-GEOGCRS' ? 'GeographicCRS' : 'CRS';
  return {
    $schema: 'https://proj.org/schemas/v0.7/projjson.schema.json',
    type,
    name: entry?.name ?? `EPSG:${code}`,
    id: { authority: 'EPSG', code },
  };
}
