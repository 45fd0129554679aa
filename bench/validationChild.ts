/**
 * One case of the validation memory benchmark, in a process of its own so its peak RSS is its own: reads a
 * Parquet file from disk by ranges (as the app reads a blob) in one of three ways and prints one JSON line with
 * the peak RSS, the wall time and what came of it.
 *
 *   footer     hyparquet reads the footer only: the floor (Node, the libraries, the metadata)
 *   hyparquet  hyparquet reads the three GEM columns of the whole file at once: a validator that trusts the file
 *   gemflow    gem-flow's validator with its default limits
 *
 * Usage: node dist/bench/validationChild.js <mode> <file>
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type AsyncBuffer, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { validateRoadMatchingInput } from '../shared/parquet/roadMatching.js';

export type ChildMode = 'footer' | 'hyparquet' | 'gemflow';

export interface ChildResult {
  mode: ChildMode;
  maxRssMB: number;
  wallSeconds: number;
  /** `ok`, the report's failing rules, or what went wrong. */
  outcome: string;
  rows?: number;
}

/**
 * This process's peak RSS in MB: Linux's VmHWM, which starts afresh at exec. (getrusage's maxrss does not: a
 * spawned child starts with its parent's, so a large parent would hide a small child's peak.)
 */
function peakRssMB(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Math.round(Number(hwm[1]) / 1024);
  } catch {
    // Not Linux: fall back below.
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function fileAsyncBuffer(path: string): Promise<AsyncBuffer & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    byteLength: size,
    slice: async (start: number, end = size) => {
      const bytes = new Uint8Array(Math.max(0, Math.min(end, size) - start));
      await handle.read(bytes, 0, bytes.byteLength, start);
      return bytes.buffer;
    },
    close: () => handle.close(),
  };
}

async function run(mode: ChildMode, file: AsyncBuffer): Promise<Pick<ChildResult, 'outcome' | 'rows'>> {
  if (mode === 'footer') {
    const metadata = await parquetMetadataAsync(file);
    return { outcome: 'ok', rows: Number(metadata.num_rows) };
  }
  if (mode === 'hyparquet') {
    const rows = await parquetReadObjects({ file, columns: ['id', 'geometry', 'is_navigable'] });
    return { outcome: 'ok', rows: rows.length };
  }
  const report = await validateRoadMatchingInput(file);
  const rules = Object.entries(report.problemCounts)
    .filter(([, n]) => n > 0)
    .map(([rule]) => rule);
  return { outcome: report.valid ? 'valid' : rules.join(', '), rows: report.checkedRows };
}

async function main(): Promise<void> {
  const [mode, path] = process.argv.slice(2) as [ChildMode, string];
  const file = await fileAsyncBuffer(path);
  const started = performance.now();
  let result: Pick<ChildResult, 'outcome' | 'rows'>;
  try {
    result = await run(mode, file);
  } catch (error) {
    result = { outcome: `threw ${(error as Error).name}: ${(error as Error).message.slice(0, 80)}` };
  }
  await file.close();
  const line: ChildResult = {
    mode,
    maxRssMB: peakRssMB(),
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    ...result,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
