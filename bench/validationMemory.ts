/**
 * The validation memory benchmark: peak RSS of gem-flow's validator on valid files of 10 thousand, 1 million and
 * 10 million rows and on each hostile sample, next to two baselines on the same file in the same run, each case
 * in a child process of its own (bench/validationChild.ts) so that each peak is clean:
 *
 * - footer only: hyparquet reading just the footer (the floor: Node, the libraries, the metadata);
 * - hyparquet direct: hyparquet reading the three GEM columns of the whole file at once, as a validator that
 *   trusts the file would, under a 1 GiB heap cap so a hostile file fails fast instead of taking the machine.
 *
 * gem-flow runs with Node's default heap, whose peak RSS includes the garbage V8 lets accumulate, and, on the
 * valid files, once more with a 96 MB heap: finishing there shows what it actually needs.
 *
 * Valid files are written one 1,048,576-row group at a time (pyarrow's default row group), the 10-million-row
 * one in about two and a half minutes and 0.6 GB of disk; all are deleted afterwards.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOSTILE_SAMPLE_KINDS, hostileSample } from '../local/standins/hostileSamples.js';
import { writeValidSampleFile } from '../local/standins/samples.js';
import { runNodeChild } from './child.js';
import type { ChildMode, ChildResult } from './validationChild.js';

const HEAP_CAP_MB = 1024;
/** gem-flow is also run on the valid files with this small heap: that it finishes shows its live set fits. */
const SMALL_HEAP_MB = 96;
/** Row counts of the valid files; GEMFLOW_BENCH_VALIDATION_ROWS (comma-separated) overrides them for a quick run. */
const VALID_ROWS = (process.env.GEMFLOW_BENCH_VALIDATION_ROWS ?? '10000,1000000,10000000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const CHILD_TIMEOUT_MS = 20 * 60_000;

export interface MemoryCase {
  name: string;
  fileBytes: number;
  footer: ChildResult;
  hyparquet: ChildResult;
  gemflow: ChildResult;
  /** gem-flow again, with a SMALL_HEAP_MB old-space limit (valid files only). */
  gemflowSmallHeap?: ChildResult;
}

export interface MemoryBenchResult {
  benchmark: 'validation-memory';
  cases: MemoryCase[];
  /** gem-flow's largest peak over all cases, and its peak on 10M rows over its peak on 10k rows. */
  gemflowMaxRssMB: number;
  gemflowGrowth10kTo10M: number | null;
}

async function runChild(mode: ChildMode, path: string, heapMB?: number): Promise<ChildResult> {
  const cap = heapMB ?? (mode === 'hyparquet' ? HEAP_CAP_MB : undefined);
  const args = [
    ...(cap ? [`--max-old-space-size=${cap}`] : []),
    join(__dirname, 'validationChild.js'),
    mode,
    path,
  ];
  const exit = await runNodeChild(args, { timeoutMs: CHILD_TIMEOUT_MS });
  if (exit.code === 0 && exit.lastLine) return JSON.parse(exit.lastLine) as ChildResult;
  // Killed by V8 at the heap cap (or by the timeout): no figures from the child, only that it died.
  const oom = /heap out of memory|Reached heap limit|Invalid array length/.test(exit.stderr);
  return {
    mode,
    maxRssMB: oom && cap ? cap : Number.NaN,
    wallSeconds: Math.round(exit.wallMs / 100) / 10,
    outcome: oom
      ? `aborted: out of memory at the ${cap} MB heap cap`
      : `died (${exit.signal ?? `exit ${exit.code}`}): ${exit.stderr.trim().split('\n').at(-1) ?? ''}`,
  };
}

const ratio = (a: number, b: number) =>
  b > 0 && Number.isFinite(a) ? Math.round((a / b) * 100) / 100 : null;

function hyparquetCell(result: ChildResult): string {
  if (result.outcome === 'ok') return `${result.maxRssMB} MB`;
  if (result.outcome.startsWith('aborted')) return `> ${result.maxRssMB} MB (out of memory)`;
  return `${result.maxRssMB} MB (${result.outcome.split(':')[0]})`;
}

function printTable(cases: MemoryCase[]): void {
  const header = [
    'case',
    'file',
    'footer only',
    'hyparquet direct',
    'gem-flow',
    'gem-flow / floor',
    'gem-flow s',
    'gem-flow finds',
  ];
  const rows = cases.map((c) => [
    c.name,
    `${(c.fileBytes / 1e6).toFixed(c.fileBytes < 1e6 ? 3 : 1)} MB`,
    `${c.footer.maxRssMB} MB`,
    hyparquetCell(c.hyparquet),
    `${c.gemflow.maxRssMB} MB`,
    `${ratio(c.gemflow.maxRssMB, c.footer.maxRssMB)}×`,
    String(c.gemflow.wallSeconds),
    c.gemflow.outcome,
    c.gemflowSmallHeap ? `${c.gemflowSmallHeap.maxRssMB} MB (${c.gemflowSmallHeap.outcome})` : '',
  ]);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (cells: string[]) => cells.map((cell, k) => cell.padEnd(widths[k]!)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

async function measure(name: string, path: string, smallHeap = false): Promise<MemoryCase> {
  const footer = await runChild('footer', path);
  const hyparquet = await runChild('hyparquet', path);
  const gemflow = await runChild('gemflow', path);
  const gemflowSmallHeap = smallHeap ? await runChild('gemflow', path, SMALL_HEAP_MB) : undefined;
  console.log(
    `  ${name}: gem-flow ${gemflow.maxRssMB} MB (${gemflow.outcome}), hyparquet direct ${hyparquet.outcome === 'ok' ? `${hyparquet.maxRssMB} MB` : hyparquet.outcome}`,
  );
  return {
    name,
    fileBytes: statSync(path).size,
    footer,
    hyparquet,
    gemflow,
    ...(gemflowSmallHeap ? { gemflowSmallHeap } : {}),
  };
}

export async function runValidationMemoryBench(): Promise<MemoryBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-bench-validation-'));
  const cases: MemoryCase[] = [];
  try {
    console.log(
      `validation memory: peak RSS per case, each in its own process (hyparquet direct capped at ${HEAP_CAP_MB} MB heap)`,
    );
    for (const rows of VALID_ROWS) {
      const path = join(dir, `valid-${rows}.parquet`);
      const started = Date.now();
      writeValidSampleFile(path, { rows, seed: 7 });
      console.log(
        `  wrote ${rows.toLocaleString('en-US')} rows (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${Math.round((Date.now() - started) / 1000)} s`,
      );
      cases.push(await measure(`valid, ${rows.toLocaleString('en-US')} rows`, path, true));
      rmSync(path);
    }
    for (const kind of HOSTILE_SAMPLE_KINDS) {
      const path = join(dir, `${kind}.parquet`);
      writeFileSync(path, hostileSample(kind));
      cases.push(await measure(kind, path));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  printTable(cases);
  const gemflow = cases.map((c) => c.gemflow.maxRssMB);
  const first = cases[0]!.gemflow.maxRssMB;
  const tenMillion = cases[VALID_ROWS.length - 1]!.gemflow.maxRssMB;
  console.log('');
  console.log(
    `gem-flow peak RSS: at most ${Math.max(...gemflow)} MB over all cases; 10M rows / 10k rows = ${ratio(tenMillion, first)}×`,
  );
  return {
    benchmark: 'validation-memory',
    cases,
    gemflowMaxRssMB: Math.max(...gemflow),
    gemflowGrowth10kTo10M: ratio(tenMillion, first),
  };
}
