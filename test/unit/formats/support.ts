/** Helpers shared by the format tests: limits, scratch directories, draining a source. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { FormatError } from '../../../shared/formats/errors.js';
import type {
  FeatureSource,
  FormatLimits,
  ReadOptions,
  SourceFeature,
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
