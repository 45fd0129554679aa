// When a previous run's results may stand in for this run's unchanged rows (baselineProblem): only a succeeded
// run of the same job type and map version, whose summary names the prepared file its results belong to.
import { describe, expect, it } from 'vitest';
import { baselineProblem } from '../../../shared/incremental/previousRun.js';
import type { SummaryDocument } from '../../../shared/workflow/summary.js';
import { sampleMatchInput } from '../../support/matchInput.js';

const request = sampleMatchInput({ incremental: true });
const summary = (overrides: Partial<SummaryDocument> = {}): Partial<SummaryDocument> => ({
  kind: 'gem-flow.match-summary',
  outcome: 'succeeded',
  instanceId: 'match-previous',
  input: {
    source: request.source,
    storageId: request.storageId,
    jobType: 'ROAD_MATCHING',
    overtureRelease: '2026-01-21.0',
    orbisVersion: null,
    trigger: 'blob',
    pdgFilename: 'roads-abc.parquet',
  },
  preparedFile: { container: 'inbox', name: 'roads.parquet', etag: '0x1', byteLength: 10 },
  ...overrides,
});

describe('baselineProblem', () => {
  it('accepts a succeeded run of the same job type and release that names its prepared file', () => {
    expect(baselineProblem(summary(), request)).toBeNull();
  });

  it.each([
    [
      'another Overture release',
      { input: { ...summary().input!, overtureRelease: '2025-12-17.0' } },
      /matched Overture release 2025-12-17\.0, this run 2026-01-21\.0/,
    ],
    [
      'another job type',
      { input: { ...summary().input!, jobType: 'LANE_LEVEL_MATCHING' as const } },
      /was a LANE_LEVEL_MATCHING job/,
    ],
    [
      'an Orbis version where this run has none',
      { input: { ...summary().input!, orbisVersion: '123456.1' } },
      /Orbis version 123456\.1, this run none/,
    ],
    ['no prepared file', { preparedFile: null }, /names no prepared file/],
    ['an error document', { kind: 'gem-flow.match-error' as never }, /did not succeed/],
  ])('refuses %s', (_what, overrides, reason) => {
    expect(baselineProblem(summary(overrides as Partial<SummaryDocument>), request)).toMatch(reason);
  });
});
