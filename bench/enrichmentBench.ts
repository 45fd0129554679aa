/**
 * The conversion and enrichment benchmark: for 100 thousand and 1 million sample roads, as GeoJSON and as
 * GeoParquet, the throughput (features/s) and peak RSS of
 *
 * - read: the format's reader alone, draining the file (the baseline: what touching the data with the same
 *   library costs);
 * - convert: reader → `normaliseFeature` → GEM-ready Parquet, the library path `prepareInput` runs;
 * - enrich: the enrichment join (GEM's results indexed in SQLite on disk, the source read again, the
 *   enriched file written in the same format), with results the simulator's matching made for these roads;
 *
 * each case in a child process of its own (bench/enrichmentChild.ts) so every peak is its own, run
 * `GEMFLOW_BENCH_ENRICH_REPEATS` times (default 3) and reported as the median, side by side in one run with
 * the ratios to the baseline. Then, per format and step, the growth of the peak from the smaller file to the
 * larger beside the baseline's growth: memory is called flat when a step grows by no more than
 * `FLAT_MARGIN_MB` beyond what the reader alone grows. `GEMFLOW_BENCH_ENRICH_ROWS` (comma-separated)
 * overrides the sizes for a quick run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BenchFormat,
  type EnrichChildMode,
  type EnrichChildResult,
  inputPath,
} from './enrichmentChild.js';

const SIZES = (process.env.GEMFLOW_BENCH_ENRICH_ROWS ?? '100000,1000000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const FORMATS: BenchFormat[] = ['geojson', 'geoparquet'];
const MEASURED = ['read', 'convert', 'enrich'] as const;
type MeasuredMode = (typeof MEASURED)[number];
const CHILD_TIMEOUT_MS = 30 * 60_000;
const REPEATS = Math.max(1, Number(process.env.GEMFLOW_BENCH_ENRICH_REPEATS ?? 3) || 1);
/**
 * How much more than the reader's own growth a step's peak may grow from the smaller file to the larger and
 * still count as flat: about the spread of one peak between repeats on the shared 2-core machine.
 */
export const FLAT_MARGIN_MB = 40;

export interface EnrichmentCase {
  rows: number;
  format: BenchFormat;
  fileMB: number;
  read: EnrichChildResult;
  convert: EnrichChildResult;
  enrich: EnrichChildResult;
}

/** One step's peak RSS at the smaller and the larger file, beside the baseline's (read). */
export interface EnrichmentGrowth {
  format: BenchFormat;
  step: MeasuredMode;
  rows: [number, number];
  peakRssMB: [number, number];
  growthMB: number;
  ratio: number | null;
  baselineGrowthMB: number;
  baselineRatio: number | null;
  flat: boolean;
}

export interface EnrichmentBenchResult {
  benchmark: 'conversion-enrichment';
  repeats: number;
  cases: EnrichmentCase[];
  growth: EnrichmentGrowth[];
}

function runChild(
  mode: EnrichChildMode,
  format: BenchFormat,
  dir: string,
  rows: number,
): Promise<EnrichChildResult> {
  const args = [join(__dirname, 'enrichmentChild.js'), mode, format, dir, String(rows)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) {
        reject(new Error(`${mode} ${format} ${rows} exited ${code}: ${err.trim().slice(-500)}`));
        return;
      }
      resolve(JSON.parse(line) as EnrichChildResult);
    });
  });
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);

function printTable(cases: EnrichmentCase[]): void {
  const header = [
    'roads',
    'format',
    'file MB',
    'step',
    'features/s',
    'peak RSS MB',
    '× read features/s',
    '× read RSS',
  ];
  const lines = [header];
  for (const c of cases) {
    for (const mode of MEASURED) {
      const r = c[mode];
      lines.push([
        c.rows.toLocaleString('en'),
        c.format,
        String(c.fileMB),
        mode,
        r.featuresPerSecond.toLocaleString('en'),
        String(r.maxRssMB),
        String(ratio(r.featuresPerSecond, c.read.featuresPerSecond)),
        String(ratio(r.maxRssMB, c.read.maxRssMB)),
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) console.log(l.map((cell, i) => cell.padStart(widths[i]!)).join('  '));
}

/** Per format and step, the peak's growth from the smaller file to the larger, beside the reader's. */
function growthOf(cases: EnrichmentCase[]): EnrichmentGrowth[] {
  if (SIZES.length < 2) return [];
  const rows: [number, number] = [Math.min(...SIZES), Math.max(...SIZES)];
  const growth: EnrichmentGrowth[] = [];
  for (const format of FORMATS) {
    const a = cases.find((c) => c.rows === rows[0] && c.format === format);
    const b = cases.find((c) => c.rows === rows[1] && c.format === format);
    if (!a || !b) continue;
    const baselineGrowthMB = b.read.maxRssMB - a.read.maxRssMB;
    for (const step of MEASURED) {
      const growthMB = b[step].maxRssMB - a[step].maxRssMB;
      growth.push({
        format,
        step,
        rows,
        peakRssMB: [a[step].maxRssMB, b[step].maxRssMB],
        growthMB,
        ratio: ratio(b[step].maxRssMB, a[step].maxRssMB),
        baselineGrowthMB,
        baselineRatio: ratio(b.read.maxRssMB, a.read.maxRssMB),
        flat: growthMB <= baselineGrowthMB + FLAT_MARGIN_MB,
      });
    }
  }
  return growth;
}

function printGrowth(growth: EnrichmentGrowth[]): void {
  const first = growth[0];
  if (!first) return;
  const [small, large] = first.rows.map((n) => n.toLocaleString('en'));
  console.log(`\npeak RSS from ${small} to ${large} roads, beside the reader's own (the baseline):`);
  for (const g of growth) {
    if (g.step === 'read') continue;
    const verdict = g.flat
      ? `flat: within ${FLAT_MARGIN_MB} MB of the reader's growth`
      : `grows ${g.growthMB - g.baselineGrowthMB} MB more than the reader`;
    console.log(
      `  ${g.format} ${g.step}: ${g.peakRssMB[0]} → ${g.peakRssMB[1]} MB (+${g.growthMB} MB, ${g.ratio}×); ` +
        `read +${g.baselineGrowthMB} MB (${g.baselineRatio}×); ${verdict}`,
    );
  }
}

/** The median of each figure over the repeats of one case (peak RSS and throughput taken separately). */
function medianOf(runs: EnrichChildResult[]): EnrichChildResult {
  const mid = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y);
    const m = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
  };
  const first = runs[0]!;
  return {
    ...first,
    wallSeconds: Math.round(mid(runs.map((r) => r.wallSeconds)) * 10) / 10,
    featuresPerSecond: Math.round(mid(runs.map((r) => r.featuresPerSecond))),
    maxRssMB: Math.round(mid(runs.map((r) => r.maxRssMB))),
  };
}

async function measureCase(format: BenchFormat, rows: number): Promise<EnrichmentCase> {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-bench-enrich-'));
  try {
    await runChild('generate', format, dir, rows);
    const fileMB = Math.round(statSync(inputPath(dir, format)).size / 2 ** 20);
    const runs: Record<MeasuredMode, EnrichChildResult[]> = { read: [], convert: [], enrich: [] };
    for (let r = 0; r < REPEATS; r++) {
      for (const mode of MEASURED) {
        const result = await runChild(mode, format, dir, rows);
        if (result.features !== rows) {
          throw new Error(`${mode} ${format} saw ${result.features} of ${rows} features`);
        }
        runs[mode].push(result);
      }
    }
    return {
      rows,
      format,
      fileMB,
      read: medianOf(runs.read),
      convert: medianOf(runs.convert),
      enrich: medianOf(runs.enrich),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runEnrichmentBench(): Promise<EnrichmentBenchResult> {
  console.log(
    `conversion and enrichment benchmark: ${SIZES.join(', ')} roads, ${FORMATS.join(' and ')}, ` +
      `median of ${REPEATS} run(s) per step`,
  );
  const cases: EnrichmentCase[] = [];
  for (const rows of SIZES) {
    for (const format of FORMATS) {
      cases.push(await measureCase(format, rows));
      console.log(`  ${rows} ${format} done`);
    }
  }
  console.log('');
  printTable(cases);
  const growth = growthOf(cases);
  printGrowth(growth);
  return { benchmark: 'conversion-enrichment', repeats: REPEATS, cases, growth };
}
