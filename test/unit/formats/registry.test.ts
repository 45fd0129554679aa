/**
 * Unit tests of `shared/formats/registry.ts`: format registry.
 */
import { describe, expect, it } from 'vitest';
import { readerFor, writerFor } from '../../../shared/formats/registry.js';
import {
  INPUT_FORMATS,
  type InputFormat,
  OUTPUT_FORMATS,
  type OutputFormat,
} from '../../../shared/formats/types.js';
import { formatRule } from './support.js';

describe('format registry', () => {
  it.each(INPUT_FORMATS)('has a reader for %s', async (format) => {
    expect(typeof (await readerFor(format))).toBe('function');
  });
  it.each(OUTPUT_FORMATS)('has a writer for %s', async (format) => {
    expect(typeof (await writerFor(format))).toBe('function');
  });
  it('a format it does not know is a FormatError, not a crash', async () => {
    expect(await formatRule(readerFor('kml' as InputFormat))).toBe('format-unsupported');
    expect(await formatRule(writerFor('shapefile' as OutputFormat))).toBe('format-unsupported');
  });
});
