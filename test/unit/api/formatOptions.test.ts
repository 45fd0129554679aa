// The format options of a start request (`format` in POST /api/matches, the same fields as blob metadata):
// valid values pass through into the match input, the DEFAULT_OUTPUT_FORMAT setting fills in the output format,
// and every bad value is a field error naming `format.<field>` and the reason.
import { describe, expect, it } from 'vitest';
import {
  formatOptionsRegistryProblems,
  resolveStartMatch,
  type StartMatchDefaults,
} from '../../../shared/api/schemas.js';

const defaults: StartMatchDefaults = {
  storageId: 'storage-001',
  overtureRelease: '2026-01-21.0',
  inboxContainer: 'inbox',
};

function errorsFor(format: unknown, extra: Partial<StartMatchDefaults> = {}) {
  const result = resolveStartMatch({ inboxBlob: 'roads.geojson', format }, { ...defaults, ...extra });
  return result.ok ? [] : result.errors;
}

describe('format options', () => {
  it('carries every valid option into the match input', () => {
    const format = {
      layer: 'wegen',
      idColumn: 'road_id',
      navigableColumn: 'drivable',
      wktColumn: 'WKT',
      csvDelimiter: '\t',
      encoding: 'ANSI 1252',
      sourceCrs: 'EPSG:28992',
      outputFormat: 'geopackage',
    };
    const result = resolveStartMatch({ inboxBlob: 'roads.zip', format }, defaults);
    expect(result).toMatchObject({ ok: true, value: { format } });
  });

  it('leaves format out when nothing is set, and takes the output format from the setting', () => {
    const plain = resolveStartMatch({ inboxBlob: 'roads.geojson' }, defaults);
    expect(plain.ok && plain.value.format).toBe(undefined);
    const defaulted = resolveStartMatch({ inboxBlob: 'roads.geojson' }, { ...defaults, outputFormat: 'csv' });
    expect(defaulted).toMatchObject({ ok: true, value: { format: { outputFormat: 'csv' } } });
    const asked = resolveStartMatch(
      { inboxBlob: 'roads.geojson', format: { outputFormat: 'geojson' } },
      { ...defaults, outputFormat: 'csv' },
    );
    expect(asked).toMatchObject({ ok: true, value: { format: { outputFormat: 'geojson' } } });
  });

  it.each([
    [{ outputFormat: 'shapefile' }, 'format.outputFormat', /must be one of geoparquet, geojson/],
    [{ sourceCrs: 'EPSG:abc' }, 'format.sourceCrs', /EPSG:<code>/],
    [{ sourceCrs: '+proj=longlat' }, 'format.sourceCrs', /EPSG:<code>/],
    [{ idColumn: 'x'.repeat(129) }, 'format.idColumn', /at most 128/],
    [{ layer: '' }, 'format.layer', /at least 1/],
    [{ csvDelimiter: '::' }, 'format.csvDelimiter', /must be one of/],
    [{ encoding: 'klingon-8' }, 'format.encoding', /not a text encoding/],
    [{ colour: 'red' }, 'format.colour', /not a known field/],
  ])('refuses %j with a field error on %s', (format, field, reason) => {
    const errors = errorsFor(format);
    expect(errors).toContainEqual({ field, reason: expect.stringMatching(reason) });
  });

  it('refuses a format that is not an object', () => {
    expect(errorsFor('geojson')).toContainEqual({ field: 'format', reason: expect.any(String) });
  });

  it('checks a sourceCrs code against the EPSG registry', async () => {
    expect(await formatOptionsRegistryProblems({ sourceCrs: 'EPSG:28992' })).toEqual([]);
    expect(await formatOptionsRegistryProblems({ sourceCrs: 'OGC:CRS84' })).toEqual([]);
    expect(await formatOptionsRegistryProblems(undefined)).toEqual([]);
    const unknown = await formatOptionsRegistryProblems({ sourceCrs: 'EPSG:99999' });
    expect(unknown).toEqual([{ field: 'format.sourceCrs', reason: expect.stringMatching(/99999/) }]);
  });
});
