/**
 * Unit tests of `shared/formats/csv.ts`: CSV reader; CSV writer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import * as samples from '../../../local/standins/format-samples/csv.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { createCsvSink, detectDelimiter, openCsv } from '../../../shared/formats/csv.js';
import { wktToGeometry } from '../../../shared/formats/geometry.js';
import { bytesSourceFile, localSourceFile } from '../../../shared/formats/sourceFile.js';
import { assertOnlyFormatErrors, drain, formatRule, readOptions, scratch } from './support.js';

const dir = scratch();
const roads = sampleRoads({ rows: 10, withZ: true });
const file = (bytes: Uint8Array | string, name = 'roads.csv') =>
  bytesSourceFile(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes, name);

describe('CSV reader', () => {
  it.each([',', ';', '\t', '|'] as const)(
    'reads the sample with delimiter %j: WKT with Z and MULTI, typed columns',
    async (delimiter) => {
      const source = await openCsv(file(samples.valid(roads, { delimiter })), readOptions(dir));
      expect(source.geometryColumn).toBe('WKT');
      expect(source.crs).toBeNull();
      expect(source.fields).toEqual([
        { name: 'road_id', type: 'string' },
        { name: 'name', type: 'string' },
        { name: 'lanes', type: 'integer' },
        { name: 'speed_kmh', type: 'number' },
        { name: 'oneway', type: 'boolean' },
        { name: 'navigable', type: 'boolean' },
        { name: 'length_mm', type: 'bigint' },
        { name: 'surveyed', type: 'string' },
        { name: 'note', type: 'string' },
      ]);
      const features = await drain(source);
      expect(features).toHaveLength(roads.length);
      features.forEach((f, i) => {
        const r = roads[i]!.properties;
        expect(f.geometry).toEqual(roads[i]!.geometry);
        expect(f.properties).toMatchObject({
          road_id: r.road_id,
          lanes: r.lanes,
          speed_kmh: r.speed_kmh,
          oneway: r.oneway,
          length_mm: r.length_mm,
          note: r.note,
        });
      });
    },
  );

  it('types conservatively: leading zeros and mixed values stay text, empty cells are null', async () => {
    const features = await drain(
      await openCsv(
        file(
          'zip,code,n,flag,wkt\n01234,7,1.5,true,"LINESTRING (1 2, 3 4)"\n12345,x,2,,"LINESTRING M (1 2 9, 3 4 10)"\n',
        ),
        readOptions(dir),
      ),
    );
    expect(features[0]!.properties).toEqual({ zip: '01234', code: '7', n: 1.5, flag: true });
    expect(features[1]!.properties).toEqual({ zip: '12345', code: 'x', n: 2, flag: null });
    expect(features[1]!.geometry).toEqual({
      type: 'LineString',
      coordinates: [
        [1, 2, Number.NaN, 9],
        [3, 4, Number.NaN, 10],
      ],
    });
  });

  it('broken "bad-wkt-row-3": the third data row is the feature with the problem, naming its line', async () => {
    const features = await drain(
      await openCsv(file(samples.broken('bad-wkt-row-3', roads)), readOptions(dir)),
    );
    const bad = features.filter((f) => f.problem);
    expect(bad.map((f) => f.index)).toEqual([samples.DEFECT_ROW]);
    expect(bad[0]!.problem!.rule).toBe('geometry-unreadable');
    expect(bad[0]!.problem!.message).toContain(`line ${samples.DEFECT_ROW + 2}`);
  });

  it('no WKT column, a wktColumn that is not there, an unclosed quote: FormatErrors with the fix', async () => {
    expect(await formatRule(openCsv(file(samples.broken('no-wkt-column', roads)), readOptions(dir)))).toBe(
      'csv-no-wkt-column',
    );
    expect(
      await formatRule(openCsv(file(samples.valid(roads)), readOptions(dir, { wktColumn: 'geom' }))),
    ).toBe('csv-no-wkt-column');
    expect(await formatRule(openCsv(file('a,wkt\n1,"LINESTRING (1 2, 3 4)\n'), readOptions(dir)))).toMatch(
      /csv-unreadable|feature-too-large/,
    );
  });

  it('an empty WKT cell is a feature without geometry, not a problem', async () => {
    const features = await drain(
      await openCsv(file('id,wkt\n1,\n2,"LINESTRING (1 2, 3 4)"\n'), readOptions(dir)),
    );
    expect(features.map((f) => [f.geometry?.type ?? null, f.problem ?? null])).toEqual([
      [null, null],
      ['LineString', null],
    ]);
  });

  it('the wktColumn option picks the column', async () => {
    const features = await drain(
      await openCsv(
        file('shape_text;other\nLINESTRING (1 2, 3 4);x\n'),
        readOptions(dir, { wktColumn: 'shape_text' }),
      ),
    );
    expect(features[0]).toMatchObject({ geometry: { type: 'LineString' }, properties: { other: 'x' } });
  });

  it('detects the delimiter that splits the header most', () => {
    expect(detectDelimiter('a;b;c')).toBe(';');
    expect(detectDelimiter('a\tb,c\td')).toBe('\t');
    expect(detectDelimiter('"x;y",b,c')).toBe(',');
  });

  it('property test: mutated files throw nothing but FormatError, read at most three times (head, two passes)', async () => {
    await assertOnlyFormatErrors(
      samples.valid(sampleRoads({ rows: 4 })),
      async (f) => drain(await openCsv(f, readOptions(dir))),
      { passes: 3 },
    );
  });
});

describe('CSV writer', () => {
  it('writes the user columns, the WKT under the source name, the enrichment and matches as JSON; csv-parse reads it', async () => {
    const source = await openCsv(file(samples.valid(roads)), readOptions(dir));
    const features = await drain(source);
    const path = join(dir, 'out.csv');
    const sink = await createCsvSink({
      path,
      layer: 'roads',
      fields: source.fields,
      crs: null,
      geometryType: null,
      tempDir: dir,
      geometryColumn: source.geometryColumn,
    });
    for (const f of features) {
      await sink.write({
        id: null,
        geometry: f.geometry,
        properties: f.properties,
        enrichment: {
          gers: 'g1',
          confidence: 87.5,
          lr_from: 0,
          lr_to: 0.5,
          match: 'partial',
          match_count: 1,
        },
        matches: [
          { gers: 'g1', confidence: 87.5, lrFrom: 0, lrTo: 0.5, gersFrom: null, gersTo: null, part: 0 },
        ],
      });
    }
    expect((await sink.finish()).features).toBe(features.length);
    const rows = parse(await readFile(path, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([
      ...source.fields.map((f) => f.name),
      'WKT',
      'gers',
      'confidence',
      'lr_from',
      'lr_to',
      'match',
      'match_count',
      'matches',
    ]);
    expect(wktToGeometry(rows[3]!.WKT!)).toEqual(roads[3]!.geometry);
    expect(JSON.parse(rows[0]!.matches!)).toEqual([
      { gers: 'g1', confidence: 87.5, lr_from: 0, lr_to: 0.5, gers_from: null, gers_to: null, part: 0 },
    ]);
    expect(rows[0]!.length_mm).toBe(String(roads[0]!.properties.length_mm));

    const back = await drain(await openCsv(await localSourceFile(path), readOptions(dir)));
    expect(back.map((f) => f.properties.road_id)).toEqual(features.map((f) => f.properties.road_id));
    expect(back.map((f) => f.properties.length_mm)).toEqual(features.map((f) => f.properties.length_mm));
  });
});
