/**
 * The inbox trigger's memory benchmark: how much the function app process (the local host child, which runs
 * the app, the Event Grid webhook and the durable engine) grows while an upload's BlobCreated event starts its
 * match — for a 2 GiB upload, against a 1 MiB upload as the baseline, one after the other in the same run.
 * The blob trigger this app used before downloaded the whole blob into the host and again into the worker, so
 * its growth scaled with the file; the Event Grid trigger reads only the blob's properties.
 *
 * Peak RSS is the kernel's VmHWM (/proc/<pid>/status). Before each upload is committed (its blocks are staged
 * first, invisible to listings, so no event exists yet) the peak is reset to the current RSS by writing 5 to
 * /proc/<pid>/clear_refs (Linux ≥ 4.0); growth = peak afterwards − RSS at the reset. Measured twice: until the
 * match instance exists (the trigger's work) and until the match has finished (the validator then reads the
 * file's tail and, since the content is not Parquet, writes a validation report). Linux only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalApp } from '../local/app.js';
import { matchInstanceIdForBlob } from '../shared/workflow/ids.js';

const MiB = 1024 * 1024;
const BLOCK_BYTES = 64 * MiB;
export const LARGE_UPLOAD_BYTES = 32 * BLOCK_BYTES; // 2 GiB
export const SMALL_UPLOAD_BYTES = MiB;

export interface UploadMemoryFigures {
  bytes: number;
  /** MiB the host's peak RSS rose above its RSS at the reset, until the match instance existed. */
  growthUntilStartedMiB: number;
  /** The same, until the match had finished. */
  growthUntilFinishedMiB: number;
  /** Wall seconds from the commit to the match instance existing. */
  secondsToStart: number;
}

function kib(status: string, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`/proc status has no ${field}; the memory benchmark needs Linux`);
  return Number(match[1]);
}

function memory(pid: number): { rssKiB: number; peakKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKiB: kib(status, 'VmRSS'), peakKiB: kib(status, 'VmHWM') };
}

function resetPeak(pid: number): number {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const after = memory(pid);
  if (after.peakKiB > after.rssKiB + 1024) throw new Error('VmHWM did not reset (clear_refs unsupported?)');
  return after.rssKiB;
}

async function instanceStatus(app: LocalApp, id: string): Promise<string | undefined> {
  const url = `${app.baseUrl}/runtime/webhooks/durabletask/instances/${id}?code=${encodeURIComponent(app.keys.systemKey)}`;
  const response = await fetch(url);
  if (response.status === 404) {
    await response.arrayBuffer();
    return undefined;
  }
  return ((await response.json()) as { runtimeStatus: string }).runtimeStatus;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stages `bytes` (one reused block buffer, so this process never holds the file), then measures the commit. */
export async function measureUpload(
  app: LocalApp,
  name: string,
  bytes: number,
): Promise<UploadMemoryFigures> {
  const { info } = app.stack;
  const blob = BlobServiceClient.fromConnectionString(info.storageConnectionString)
    .getContainerClient(info.inboxContainer)
    .getBlockBlobClient(name);
  const block = Buffer.alloc(Math.min(BLOCK_BYTES, bytes), 0x20); // spaces: not Parquet
  const ids: string[] = [];
  for (let offset = 0; offset < bytes; offset += block.length) {
    const id = Buffer.from(String(ids.length).padStart(6, '0')).toString('base64');
    await blob.stageBlock(id, block, block.length);
    ids.push(id);
  }
  const baseKiB = resetPeak(app.hostPid);
  const committed = performance.now();
  const { etag } = await blob.commitBlockList(ids);
  const id = matchInstanceIdForBlob(info.inboxContainer, name, etag ?? '');
  await waitFor(`match ${id} to start`, async () => (await instanceStatus(app, id)) !== undefined);
  const secondsToStart = (performance.now() - committed) / 1000;
  const started = memory(app.hostPid).peakKiB;
  await waitFor(`match ${id} to finish`, async () =>
    ['Completed', 'Failed', 'Terminated'].includes((await instanceStatus(app, id)) ?? ''),
  );
  const finished = memory(app.hostPid).peakKiB;
  return {
    bytes,
    growthUntilStartedMiB: (started - baseKiB) / 1024,
    growthUntilFinishedMiB: (finished - baseKiB) / 1024,
    secondsToStart,
  };
}
