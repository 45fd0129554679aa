/**
 * One staging copy in a process of its own, so its figures are its own: the bytes this process read from
 * any file or socket (/proc/self/io `rchar`, which counts TLS records and HTTP framing too, so it is an upper
 * bound on the body bytes), its peak RSS growth (VmHWM after a reset through /proc/self/clear_refs, minus
 * VmRSS at the reset) and the wall time of the copy. Started by bench/staging.ts with the stack's endpoints in
 * its environment; prints one JSON line.
 *
 * Modes: `server-side` and `streamed` run gem-flow's stageInput (the second with the server-side path turned
 * off); `sdk-stream` is the baseline a plain script would write: download piped into uploadStream with the
 * same 4 MiB × 4 buffers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { stageInput } from '../shared/staging/copy.js';
import { type PdgContainerAccess, pdgContainerClient } from '../shared/staging/pdgContainer.js';

export type StagingChildMode = 'server-side' | 'streamed' | 'sdk-stream';

/** What bench/staging.ts passes in GEMFLOW_STAGING_BENCH (JSON). */
export interface StagingChildInput {
  blobUrl: string;
  managedIdentityClientId: string;
  container: string;
  blobName: string;
  pdg: PdgContainerAccess;
  targetName: string;
}

export interface StagingChildResult {
  mode: StagingChildMode;
  bytes: number;
  wallSeconds: number;
  /** rchar growth over the copy. */
  bytesReadByProcess: number;
  peakRssGrowthMiB: number;
  /** stageInput's own account (null for the SDK baseline). */
  method: string | null;
  bytesThroughApp: number | null;
}

function statusKiB(field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error(`/proc/self/status has no ${field}; the staging benchmark needs Linux`);
  return Number(match[1]);
}

function rchar(): number {
  const match = /^rchar:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
  if (!match) throw new Error('/proc/self/io has no rchar; the staging benchmark needs Linux');
  return Number(match[1]);
}

async function copy(mode: StagingChildMode, input: StagingChildInput) {
  const credential = new ManagedIdentityCredential({ clientId: input.managedIdentityClientId });
  const source = new BlobServiceClient(input.blobUrl, credential)
    .getContainerClient(input.container)
    .getBlobClient(input.blobName);
  const target = pdgContainerClient(input.pdg);
  if (mode === 'sdk-stream') {
    const props = await source.getProperties();
    const download = await source.download(0, undefined, { conditions: { ifMatch: props.etag ?? '' } });
    const body = download.readableStreamBody as NodeJS.ReadableStream & import('node:stream').Readable;
    await target.getBlockBlobClient(input.targetName).uploadStream(body, 4 * 1024 * 1024, 4);
    return { method: null, bytesThroughApp: null, bytes: props.contentLength ?? 0 };
  }
  const staged = await stageInput({
    source,
    target,
    targetName: input.targetName,
    overwrite: true,
    serverSideCopy: mode === 'server-side',
  });
  return { method: staged.method, bytesThroughApp: staged.bytesThroughApp, bytes: staged.size };
}

async function main(): Promise<void> {
  const mode = process.argv[2] as StagingChildMode;
  const input = JSON.parse(process.env.GEMFLOW_STAGING_BENCH ?? '{}') as StagingChildInput;
  // Only the stack's loopback identity endpoint: never let the credential fall back to the IMDS address.
  if (!process.env.IDENTITY_ENDPOINT?.startsWith('http://127.0.0.1')) {
    throw new Error('IDENTITY_ENDPOINT must point at the local stack (bench/staging.ts sets it).');
  }
  // Token and TLS set-up before the measurement, so it counts the copy and not the first handshake.
  await new ManagedIdentityCredential({ clientId: input.managedIdentityClientId }).getToken(
    'https://storage.azure.com/.default',
  );
  writeFileSync('/proc/self/clear_refs', '5');
  const baseKiB = statusKiB('VmRSS');
  const readBefore = rchar();
  const started = performance.now();
  const done = await copy(mode, input);
  const wallSeconds = (performance.now() - started) / 1000;
  const result: StagingChildResult = {
    mode,
    bytes: done.bytes,
    wallSeconds,
    bytesReadByProcess: rchar() - readBefore,
    peakRssGrowthMiB: (statusKiB('VmHWM') - baseKiB) / 1024,
    method: done.method,
    bytesThroughApp: done.bytesThroughApp,
  };
  console.log(JSON.stringify(result));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
