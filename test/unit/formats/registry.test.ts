import { describe, expect, it } from 'vitest';
import { readerFor, writerFor } from '../../../shared/formats/registry.js';
import { formatRule } from './support.js';

describe('format registry', () => {
  it.each(['gem-parquet', 'geoparquet', 'geojson', 'geojsonseq', 'csv'] as const)(
    'has a reader for %s',
    async (format) => {
      expect(typeof (await readerFor(format))).toBe('function');
    },
  );
  it.each(['geoparquet', 'geojson', 'csv'] as const)('has a writer for %s', async (format) => {
    expect(typeof (await writerFor(format))).toBe('function');
  });
  it('an output format without a writer is a FormatError, not a crash', async () => {
    expect(await formatRule(writerFor('flatgeobuf'))).toBe('format-unsupported');
  });
});
