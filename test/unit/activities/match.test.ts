// The matchFile activities against fake services: what they write to the outbox.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { createMatchActivities } from '../../../shared/activities/match.js';
import { loadSettings } from '../../../shared/config.js';
import type { Services } from '../../../shared/services.js';
import { TomTomNetworkError, TomTomNotFoundError, TomTomServiceError } from '../../../shared/tomtom/index.js';
import type { DeliverResultsInput } from '../../../shared/workflow/types.js';

function fakeOutbox() {
  const blobs = new Map<string, string>();
  const container = {
    containerName: 'outbox',
    getBlockBlobClient: (name: string) => ({
      upload: async (body: string) => {
        blobs.set(name, body);
        return {};
      },
    }),
  };
  return { blobs, services: { outbox: container, tomtom: {} } as unknown as Services };
}

const minimalEnv = { TOMTOM_API_KEY: 'local-key-123456', AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

const timedOut: DeliverResultsInput = {
  request: {
    source: { kind: 'inbox', container: 'inbox', blobName: 'roads.parquet', etag: '0x1' },
    storageId: 'storage-001',
    jobType: 'ROAD_MATCHING',
    overtureRelease: '2026-01-21.0',
    outputStem: 'roads',
    trigger: 'blob',
    requestedAt: '2026-02-18T09:59:00Z',
  },
  instanceId: 'match-1',
  pdgFilename: 'roads-abc.parquet',
  jobId: 7,
  poll: null,
  timedOut: true,
  lastGemStatus: 'IN_PROGRESS',
  deadline: '2026-02-20T10:00:00Z',
  startedAt: '2026-02-18T09:59:00Z',
  submittedAt: '2026-02-18T10:00:00Z',
  polls: 300,
  finishedAt: '2026-02-20T10:00:07Z',
};

describe('deliverResults', () => {
  it('a timed-out match: the error document names the monitoring deadline and the last GEM status', async () => {
    const { blobs, services } = fakeOutbox();
    const result = await createMatchActivities(services).deliverResults(timedOut);
    expect(result).toMatchObject({ outcome: 'timed-out', summaryBlob: 'roads.error.json' });
    const document = JSON.parse(blobs.get('roads.error.json') ?? '{}');
    expect(document.timings.deadline).toBe('2026-02-20T10:00:00Z');
    expect(document.job.status).toBe('IN_PROGRESS');
    expect(document.message).toContain('deadline 2026-02-20T10:00:00Z (last status IN_PROGRESS)');
    expect(result.message).toBe(document.message);
  });

  it('running twice writes the same document (at-least-once delivery)', async () => {
    const { blobs, services } = fakeOutbox();
    const activities = createMatchActivities(services);
    await activities.deliverResults(timedOut);
    const first = blobs.get('roads.error.json');
    await activities.deliverResults(timedOut);
    expect(blobs.get('roads.error.json')).toBe(first);
  });
});

describe('pollJob', () => {
  const pollWith = (failure: unknown) =>
    createMatchActivities({
      tomtom: {
        getJob: async () => {
          throw failure;
        },
      },
    } as unknown as Services).pollJob({ jobId: 7 });
  const details = (status: number) => ({ operation: 'GET job 7', status });

  it('reports a throttled, failing or unreachable service as transient, so the loop keeps polling', async () => {
    for (const failure of [
      new TomTomServiceError('GEM answered 503', details(503)),
      new TomTomNetworkError('no response', details(0)),
    ]) {
      expect(await pollWith(failure)).toMatchObject({ terminal: false, error: { permanent: false } });
    }
  });

  it('reports a vanished job, a defect or refused access as permanent, so the loop stops', async () => {
    for (const failure of [
      new TomTomNotFoundError('no such job', details(404)),
      new TypeError("Cannot read properties of undefined (reading 'status')"),
    ]) {
      const poll = await pollWith(failure);
      expect(poll.error).toMatchObject({ permanent: true, message: (failure as Error).message });
    }
  });
});

describe('validateInput', () => {
  /** An inbox holding one blob, readable by ranges as the SDK's BlobClient is. */
  function inboxWith(bytes: Uint8Array) {
    const blob = {
      url: 'https://account.blob.core.windows.net/inbox/roads.parquet',
      getProperties: async () => ({ etag: '"0x1"', contentLength: bytes.byteLength }),
      download: async (offset = 0, count = bytes.byteLength - offset) => ({
        readableStreamBody: Readable.from([Buffer.from(bytes.subarray(offset, offset + count))]),
        contentLength: count,
      }),
    };
    return { getContainerClient: () => ({ getBlobClient: () => blob }) };
  }

  it('validates with the limits in the settings (VALIDATION_*), and reports what exceeds them', async () => {
    const { blobs, services } = fakeOutbox();
    const input = { ...timedOut.request };
    const bytes = roadMatchingSample('valid', { rows: 20 });
    const withLimits = (maxRows: number) =>
      createMatchActivities({
        ...services,
        appBlobs: inboxWith(bytes),
        settings: { validation: { ...loadSettings(minimalEnv).validation, maxRows } },
      } as unknown as Services).validateInput(input);

    expect(await withLimits(20)).toMatchObject({ valid: true, rowCount: 20 });
    const refused = await withLimits(19);
    expect(refused).toMatchObject({ valid: false, rowCount: 20, reportBlob: 'roads.validation.json' });
    const report = JSON.parse(blobs.get('roads.validation.json') ?? '{}');
    expect(report.problems.map((p: { rule: string }) => p.rule)).toEqual(['row-limit']);
    expect(report.problems[0].message).toContain('VALIDATION_MAX_ROWS');
  });
});
