/**
 * The staging benchmark: a 1 GiB input copied from the app's storage into a PDG container three ways, one after
 * the other against the same offline stack (Azurite with its data on disk, the identity stand-in): gem-flow's
 * server-side path (Put Block From URL with a user-delegation SAS), gem-flow's streamed fallback, and a plain
 * SDK stream copy (the baseline). Each copy runs in a child process of its own (bench/stagingChild.ts), which
 * reports the bytes it read from sockets and files, its peak RSS growth and its wall time. Goals: 0 bytes of the
 * file read by the app on the server-side path, under 64 MiB growth on the fallback.
 *
 * What Azurite cannot show: it is one process on this machine doing both sides of a server-side copy (it
 * fetches each block from itself over loopback), so its throughput says nothing about Azure's, where the
 * copy runs inside the storage service; the app-side figures (bytes read, memory) are what carries over.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type Stack, type StackInfo, startStack } from '../local/standins/stack.js';
import type { StagingChildInput, StagingChildMode, StagingChildResult } from './stagingChild.js';

/** GEMFLOW_BENCH_STAGING_MIB overrides the input size (MiB) for a quick run. */
const INPUT_BYTES = Number(process.env.GEMFLOW_BENCH_STAGING_MIB ?? 1024) * 1024 * 1024;
const UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024;
const CHILD_TIMEOUT_MS = 15 * 60_000;
const ALL_MODES: StagingChildMode[] = ['server-side', 'streamed', 'sdk-stream'];
/** GEMFLOW_BENCH_STAGING_MODES (comma-separated) runs only some paths, for a quick look at one. */
const MODES = (process.env.GEMFLOW_BENCH_STAGING_MODES?.split(',') ?? ALL_MODES).filter(
  (m): m is StagingChildMode => ALL_MODES.includes(m as StagingChildMode),
);

export interface StagingBenchResult {
  benchmark: 'staging';
  inputBytes: number;
  runs: (StagingChildResult & { throughputMiBps: number })[];
  /** Throughput of each gem-flow path over the SDK stream copy's, in the same run. */
  throughputVsSdkStream: { serverSide: number; streamed: number };
  /**
   * The server-side path: stageInput downloaded no byte of the file, and the process read under 1 MiB in all
   * (token, properties, block and commit responses); the fallback grew by under 64 MiB.
   */
  goals: { serverSideReadsNoFileBytes: boolean; streamedGrowthUnder64MiB: boolean };
}

/** Writes the input block by block from one random buffer (each block marked with its index, so none repeat). */
async function uploadInput(stack: Stack, blobName: string): Promise<void> {
  const { info } = stack;
  const blob = BlobServiceClient.fromConnectionString(info.storageConnectionString)
    .getContainerClient(info.inboxContainer)
    .getBlockBlobClient(blobName);
  const block = randomBytes(UPLOAD_BLOCK_BYTES);
  const ids: string[] = [];
  for (let offset = 0; offset < INPUT_BYTES; offset += UPLOAD_BLOCK_BYTES) {
    const length = Math.min(UPLOAD_BLOCK_BYTES, INPUT_BYTES - offset);
    block.writeUInt32BE(ids.length, 0);
    const id = Buffer.from(String(ids.length).padStart(6, '0')).toString('base64');
    await blob.stageBlock(id, block.subarray(0, length), length);
    ids.push(id);
  }
  await blob.commitBlockList(ids);
}

function runChild(
  mode: StagingChildMode,
  input: StagingChildInput,
  info: StackInfo,
): Promise<StagingChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'stagingChild.js'), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The stack's managed-identity endpoint: without it ManagedIdentityCredential would look for IMDS.
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: info.caFile,
        IDENTITY_ENDPOINT: info.identityEndpoint,
        IDENTITY_HEADER: info.identityHeader,
        GEMFLOW_STAGING_BENCH: JSON.stringify(input),
      },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as StagingChildResult);
      else reject(new Error(`staging child ${mode} exited ${code ?? signal}: ${err}`));
    });
  });
}

const mib = (bytes: number) => bytes / (1024 * 1024);
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function report(runs: StagingBenchResult['runs']): string {
  const rows = [
    ['path', 'MiB/s', 'bytes read by the process', 'file bytes through app', 'peak RSS growth MiB'],
    ...runs.map((r) => [
      r.mode,
      String(round(r.throughputMiBps)),
      String(r.bytesReadByProcess),
      r.bytesThroughApp === null ? '(all)' : String(r.bytesThroughApp),
      String(round(r.peakRssGrowthMiB)),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

export async function runStagingBench(): Promise<StagingBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-staging-bench-'));
  const stack = await startStack({ dir, persistent: true, writeStackJson: false });
  try {
    const { info } = stack;
    const pdg = info.pdgStorages[0]!;
    console.log(`staging benchmark: ${round(mib(INPUT_BYTES), 0)} MiB input, Azurite data on disk in ${dir}`);
    await uploadInput(stack, 'bench/staging-input.bin');
    const runs: StagingBenchResult['runs'] = [];
    for (const mode of MODES) {
      const input: StagingChildInput = {
        blobUrl: info.blobUrl,
        managedIdentityClientId: info.managedIdentity.clientId,
        container: info.inboxContainer,
        blobName: 'bench/staging-input.bin',
        targetName: `bench-staging-${mode}.bin`,
        pdg: {
          containerUrl: pdg.containerUrl,
          tenantId: pdg.servicePrincipal.tenantId,
          clientId: pdg.servicePrincipal.clientId,
          clientSecret: pdg.servicePrincipal.clientSecret,
          authorityHost: info.authorityHost,
          disableInstanceDiscovery: true,
        },
      };
      const result = await runChild(mode, input, info);
      runs.push({ ...result, throughputMiBps: mib(result.bytes) / result.wallSeconds });
      console.log(`  ${mode}: ${round(result.wallSeconds)} s`);
    }
    console.log(report(runs));
    return summary(runs);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function summary(runs: StagingBenchResult['runs']): StagingBenchResult {
  const none = {
    throughputMiBps: Number.NaN,
    bytesThroughApp: null,
    bytesReadByProcess: Number.NaN,
    method: null,
  };
  const by = (mode: StagingChildMode) =>
    runs.find((r) => r.mode === mode) ?? { ...none, peakRssGrowthMiB: Number.NaN };
  const baseline = by('sdk-stream').throughputMiBps;
  return {
    benchmark: 'staging',
    inputBytes: INPUT_BYTES,
    runs: runs.map((r) => ({
      ...r,
      wallSeconds: round(r.wallSeconds, 2),
      peakRssGrowthMiB: round(r.peakRssGrowthMiB),
    })),
    throughputVsSdkStream: {
      serverSide: round(by('server-side').throughputMiBps / baseline, 2),
      streamed: round(by('streamed').throughputMiBps / baseline, 2),
    },
    goals: {
      serverSideReadsNoFileBytes:
        by('server-side').method === 'server-side' &&
        by('server-side').bytesThroughApp === 0 &&
        by('server-side').bytesReadByProcess < 1024 * 1024,
      streamedGrowthUnder64MiB: by('streamed').peakRssGrowthMiB < 64,
    },
  };
}
