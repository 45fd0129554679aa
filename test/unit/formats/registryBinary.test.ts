import { describe, expect, it } from 'vitest';
import { createFlatGeobufSink, openFlatGeobuf } from '../../../shared/formats/flatgeobuf.js';
import { createGeoPackageSink, openGeoPackage } from '../../../shared/formats/geopackage.js';
import { readerFor, writerFor } from '../../../shared/formats/registry.js';
import { openShapefile } from '../../../shared/formats/shapefile.js';

describe('format registry: FlatGeobuf, Shapefile, GeoPackage', () => {
  it('hands out each reader and writer', async () => {
    expect(await readerFor('flatgeobuf')).toBe(openFlatGeobuf);
    expect(await readerFor('shapefile')).toBe(openShapefile);
    expect(await readerFor('geopackage')).toBe(openGeoPackage);
    expect(await writerFor('flatgeobuf')).toBe(createFlatGeobufSink);
    expect(await writerFor('geopackage')).toBe(createGeoPackageSink);
  });
});
