// A run's outbox documents as downloads: which names are served, the file name and content type a browser
// gets, and the byte range one response carries (bounded, RFC 9110 §14 single ranges only).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  contentDisposition,
  contentTypeFor,
  downloadFileName,
  isOutputDocument,
  OUTPUT_DOCUMENTS,
  OUTPUT_RESPONSE_MAX_BYTES,
  planOutputSlice,
} from '../../../shared/results/outputDocuments.js';
import { outboxBlobNames } from '../../../shared/workflow/outboxNames.js';

describe('the documents served', () => {
  it('are exactly the ones a run writes, and its enriched output', () => {
    expect([...OUTPUT_DOCUMENTS].sort()).toEqual(
      [...Object.keys(outboxBlobNames({ nameKey: 'a', run: 'b' })), 'matched'].sort(),
    );
    expect(isOutputDocument('results')).toBe(true);
    for (const name of ['', 'latest', '../results', 'toString', '__proto__', 'constructor']) {
      expect(isOutputDocument(name), name).toBe(false);
    }
  });

  it('carry a content type by extension, octet-stream for anything unknown', () => {
    expect(contentTypeFor('a/b/results.parquet')).toBe('application/vnd.apache.parquet');
    expect(contentTypeFor('a/b/summary.JSON')).toBe('application/json; charset=utf-8');
    expect(contentTypeFor('a/b/roads.geojson')).toBe('application/geo+json; charset=utf-8');
    expect(contentTypeFor('a/b/noextension')).toBe('application/octet-stream');
    expect(contentTypeFor('a/b/page.html')).toBe('application/octet-stream');
  });
});

describe('the name a browser saves a document under', () => {
  it("is the input's stem, then the document's own name", () => {
    const source = { kind: 'inbox', container: 'inbox', blobName: 'roads/2026/my roads.parquet' } as const;
    expect(downloadFileName(source, 'k/r/results.parquet')).toBe('my roads.results.parquet');
    expect(downloadFileName({ kind: 'pdg', filename: 'plain' }, 'k/r/summary.json')).toBe(
      'plain.summary.json',
    );
    expect(downloadFileName({ kind: 'pdg', filename: '.hidden' }, 'k/r/summary.json')).toBe(
      '.hidden.summary.json',
    );
  });

  it('drops control characters and bounds the stem', () => {
    const blobName = `${'x'.repeat(500)}\u0000\r\n.parquet`;
    const name = downloadFileName({ kind: 'inbox', container: 'inbox', blobName }, 'k/r/results.parquet');
    expect(name).toBe(`${'x'.repeat(100)}.results.parquet`);
    expect(downloadFileName({ kind: 'pdg', filename: '\u0007.csv' }, 'k/r/error.json')).toBe(
      'match.error.json',
    );
  });

  it('is quoted safely in Content-Disposition, with the exact name in filename* when it is not ASCII', () => {
    expect(contentDisposition('roads.results.parquet')).toBe('attachment; filename="roads.results.parquet"');
    expect(contentDisposition('a"b\\c.json')).toBe(
      'attachment; filename="a_b_c.json"; filename*=UTF-8\'\'a%22b%5Cc.json',
    );
    expect(contentDisposition('дороги.summary.json')).toBe(
      `attachment; filename="______.summary.json"; filename*=UTF-8''${encodeURIComponent('дороги')}.summary.json`,
    );
    expect(contentDisposition("é's (1).json")).toContain("filename*=UTF-8''%C3%A9%27s%20%281%29.json");
  });

  it('never lets a name break out of the header', () => {
    fc.assert(
      // Names as downloadFileName makes them: lone surrogates are already gone.
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (raw) => {
        const name = raw.replace(/\p{Cs}/gu, '');
        const header = contentDisposition(name);
        expect(header).toMatch(
          /^attachment; filename="[\x20-\x7e]*"(; filename\*=UTF-8''[A-Za-z0-9%._~!-]*)?$/,
        );
        expect(header.slice('attachment; filename="'.length).split('"').length).toBeLessThanOrEqual(3);
      }),
      { numRuns: 300 },
    );
  });
});

describe('planOutputSlice', () => {
  it('sends a document whole when it fits one response', () => {
    expect(planOutputSlice(10, null)).toEqual({ status: 200, start: 0, end: 9 });
    expect(planOutputSlice(0, null)).toEqual({ status: 200, start: 0, end: 0 });
    expect(planOutputSlice(OUTPUT_RESPONSE_MAX_BYTES, '')).toMatchObject({ status: 200 });
  });

  it('asks for Range, naming the header and the first part, when a document is larger', () => {
    const slice = planOutputSlice(OUTPUT_RESPONSE_MAX_BYTES + 1, null);
    expect(slice.status).toBe(400);
    if (slice.status !== 400) return;
    expect(slice.errors[0]!.field).toBe('Range');
    expect(slice.errors[0]!.reason).toContain(`bytes=0-${OUTPUT_RESPONSE_MAX_BYTES - 1}`);
  });

  it('reads the three single-range forms', () => {
    expect(planOutputSlice(100, 'bytes=10-19')).toEqual({ status: 206, start: 10, end: 19 });
    expect(planOutputSlice(100, 'bytes=90-')).toEqual({ status: 206, start: 90, end: 99 });
    expect(planOutputSlice(100, 'bytes=-5')).toEqual({ status: 206, start: 95, end: 99 });
    expect(planOutputSlice(100, 'bytes=-500')).toEqual({ status: 206, start: 0, end: 99 });
    expect(planOutputSlice(100, 'bytes=50-5000')).toEqual({ status: 206, start: 50, end: 99 });
    expect(planOutputSlice(100, ' bytes = 1 - 2 ')).toEqual({ status: 206, start: 1, end: 2 });
  });

  it('cuts a long range to the bound a response carries', () => {
    expect(planOutputSlice(1_000, 'bytes=0-', 100)).toEqual({ status: 206, start: 0, end: 99 });
    expect(planOutputSlice(1_000, 'bytes=-900', 100)).toEqual({ status: 206, start: 100, end: 199 });
  });

  it('answers 416 for a range outside the document and 400 for anything but one byte range', () => {
    expect(planOutputSlice(100, 'bytes=100-')).toEqual({ status: 416 });
    expect(planOutputSlice(100, 'bytes=20-10')).toEqual({ status: 416 });
    expect(planOutputSlice(100, 'bytes=-0')).toEqual({ status: 416 });
    expect(planOutputSlice(0, 'bytes=-1')).toEqual({ status: 416 });
    const tooLong = `bytes=${'0'.repeat(60)}1-2`;
    for (const bad of ['bytes=-', 'bytes=0-1,5-6', 'items=0-1', 'bytes=a-b', 'bytes=1.5-2', tooLong]) {
      expect(planOutputSlice(100, bad).status, bad).toBe(400);
    }
  });

  it('never plans more bytes than the bound nor outside the document', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.option(fc.nat(20_000)),
        fc.option(fc.nat(20_000)),
        (size, first, last) => {
          const header = `bytes=${first ?? ''}-${last ?? ''}`;
          const slice = planOutputSlice(size, header, 1_000);
          if (slice.status !== 206) return;
          expect(slice.start).toBeGreaterThanOrEqual(0);
          expect(slice.end).toBeLessThan(size);
          expect(slice.end - slice.start + 1).toBeLessThanOrEqual(1_000);
          expect(slice.end).toBeGreaterThanOrEqual(slice.start);
        },
      ),
    );
  });
});
