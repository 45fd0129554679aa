/** Helpers shared by the format tests: limits, scratch directories, draining a source. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { FormatError } from '../../../shared/formats/errors.js';
import type {
  FeatureSource,
  FormatLimits,
  ReadOptions,
  SourceFeature,
  SourceFile,
} from '../../../shared/formats/types.js';

export const LIMITS: FormatLimits = {
  maxFeatureBytes: 1024 * 1024,
  maxVertices: 100_000,
  maxFields: 200,
  maxDepth: 32,
};

/** A scratch directory removed after the file's tests. */
export function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gem-flow-formats-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function readOptions(tempDir: string, extra: Partial<ReadOptions> = {}): ReadOptions {
  return { limits: LIMITS, tempDir, ...extra };
}

export async function drain(source: FeatureSource): Promise<SourceFeature[]> {
  const out: SourceFeature[] = [];
  for await (const f of source.features()) out.push(f);
  await source.close();
  return out;
}

/** The FormatError rule a promise rejects with (fails the test if it resolves or throws something else). */
export async function formatRule(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FormatError) return err.rule;
    throw err;
  }
  throw new Error('expected a FormatError, but the call succeeded');
}

/** A SourceFile that counts the bytes it hands out, by slice and by stream. */
export function counting(inner: SourceFile): { file: SourceFile; bytes: () => number } {
  let read = 0;
  const file: SourceFile = {
    ...inner,
    slice: async (start, end) => {
      const b = await inner.slice(start, end);
      read += b.byteLength;
      return b;
    },
    async *stream(start) {
      for await (const chunk of inner.stream(start)) {
        read += chunk.byteLength;
        yield chunk;
      }
    },
  };
  return { file, bytes: () => read };
}

/**
 * The reader property: on any truncation of `base` with up to `maxFlips` bytes overwritten, `read` throws
 * nothing but FormatError, and reads at most `passes` times the (mutated) file's size.
 */
export async function assertOnlyFormatErrors(
  base: Uint8Array,
  read: (file: SourceFile) => Promise<unknown>,
  options: { passes?: number; maxFlips?: number; name?: string } = {},
): Promise<void> {
  const { bytesSourceFile } = await import('../../../shared/formats/sourceFile.js');
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: base.byteLength }),
      fc.array(fc.tuple(fc.nat(base.byteLength - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: options.maxFlips ?? 6,
      }),
      async (cut, flips) => {
        const bytes = base.slice(0, cut);
        for (const [at, value] of flips) if (at < bytes.byteLength) bytes[at] = value;
        const watched = counting(bytesSourceFile(bytes, options.name ?? 'mutated'));
        try {
          await read(watched.file);
        } catch (err) {
          if (!(err instanceof FormatError)) throw err;
        }
        expect(watched.bytes()).toBeLessThanOrEqual((options.passes ?? 2) * Math.max(bytes.byteLength, 1));
      },
    ),
    { numRuns: 150 },
  );
}
