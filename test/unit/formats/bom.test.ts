/**
 * Unit tests of the text readers (`shared/formats/csv.ts`, `geojson.ts`): files that start with a UTF-8 byte
 * order mark (Windows exports).
 */
import { describe, expect, it } from 'vitest';
import * as csv from '../../../local/standins/format-samples/csv.js';
import * as geojson from '../../../local/standins/format-samples/geojson.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { openCsv } from '../../../shared/formats/csv.js';
import { detectFormat } from '../../../shared/formats/detect.js';
import { openGeoJson, openGeoJsonSeq } from '../../../shared/formats/geojson.js';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import { drain, readOptions, scratch } from './support.js';

const dir = scratch();
const roads = sampleRoads({ rows: 3 });
const withBom = (bytes: Uint8Array) => new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]);

describe('files that start with a UTF-8 byte order mark (Windows exports)', () => {
  it.each([
    ['geojson', () => geojson.valid(roads), openGeoJson],
    ['geojsonseq', () => geojson.validSeq(roads), openGeoJsonSeq],
    ['csv', () => csv.valid(roads), openCsv],
  ] as const)('%s is detected and read', async (format, make, open) => {
    const file = bytesSourceFile(withBom(make()), 'roads');
    expect((await detectFormat(file)).format).toBe(format);
    const features = await drain(await open(file, readOptions(dir)));
    expect(features.map((f) => f.problem ?? null)).toEqual(roads.map(() => null));
    expect(features[0]!.geometry).toEqual(roads[0]!.geometry);
  });
});
