/**
 * One match request, as the tests that need a `MatchInput` build it: an inbox upload of `roads.parquet`
 * (etag 0x1) to be matched by ROAD_MATCHING against Overture 2026-01-21.0 in storage `storage-001`, requested by
 * its BlobCreated event, writing to the outbox folder of run `match-test`. A test overrides what it is about.
 */
import { outboxLocationFor } from '../../shared/workflow/outboxNames.js';
import type { MatchInput, MatchSource } from '../../shared/workflow/types.js';

export const SAMPLE_SOURCE: MatchSource = {
  kind: 'inbox',
  container: 'inbox',
  blobName: 'roads.parquet',
  etag: '0x1',
};

export function sampleMatchInput(overrides: Partial<MatchInput> = {}): MatchInput {
  const source = overrides.source ?? SAMPLE_SOURCE;
  return {
    source,
    storageId: 'storage-001',
    jobType: 'ROAD_MATCHING',
    overtureRelease: '2026-01-21.0',
    outbox: outboxLocationFor(source, 'match-test'),
    trigger: 'blob',
    requestedAt: '2026-02-18T10:00:00.000Z',
    ...overrides,
  };
}
