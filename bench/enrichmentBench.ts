/**
 * The conversion and enrichment benchmark: for 100 thousand and 1 million sample roads, as GeoJSON and as
 * GeoParquet, the throughput (features/s) and peak RSS of
 *
 * - read: the format's reader alone, draining the file (the baseline: what touching the data costs);
 * - convert: reader → `normaliseFeature` → GEM-ready Parquet, the library path `prepareInput` runs;
 * - enrich: the enrichment join (GEM's results indexed in SQLite on disk, the source read again, the
 *   enriched file written in the same format), with results the simulator's matching made for these roads;
 *
 * each case in a child process of its own (bench/enrichmentChild.ts) so every peak is its own, side by side
 * in one run with the ratios to the baseline, and the growth of each peak from the smaller file to the larger.
 * `GEMFLOW_BENCH_ENRICH_ROWS` (comma-separated) overrides the sizes for a quick run.
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

export interface EnrichmentCase {
  rows: number;
  format: BenchFormat;
  fileMB: number;
  read: EnrichChildResult;
  convert: EnrichChildResult;
  enrich: EnrichChildResult;
}

export interface EnrichmentBenchResult {
  benchmark: 'conversion-enrichment';
  cases: EnrichmentCase[];
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

function printGrowth(cases: EnrichmentCase[]): void {
  if (SIZES.length < 2) return;
  const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)];
  for (const format of FORMATS) {
    const a = cases.find((c) => c.rows === small && c.format === format);
    const b = cases.find((c) => c.rows === large && c.format === format);
    if (!a || !b) continue;
    const growth = MEASURED.map((m) => `${m} ${ratio(b[m].maxRssMB, a[m].maxRssMB)}×`).join(', ');
    console.log(
      `${format}: peak RSS at ${large.toLocaleString('en')} / ${small.toLocaleString('en')} roads: ${growth}`,
    );
  }
}

export async function runEnrichmentBench(): Promise<EnrichmentBenchResult> {
  console.log(`conversion and enrichment benchmark: ${SIZES.join(', ')} roads, ${FORMATS.join(' and ')}`);
  const cases: EnrichmentCase[] = [];
  for (const rows of SIZES) {
    for (const format of FORMATS) {
      const dir = mkdtempSync(join(tmpdir(), 'gemflow-bench-enrich-'));
      try {
        await runChild('generate', format, dir, rows);
        const fileMB = Math.round(statSync(inputPath(dir, format)).size / 2 ** 20);
        const measured = {} as Record<MeasuredMode, EnrichChildResult>;
        for (const mode of MEASURED) measured[mode] = await runChild(mode, format, dir, rows);
        for (const mode of MEASURED) {
          if (measured[mode].features !== rows) {
            throw new Error(`${mode} ${format} saw ${measured[mode].features} of ${rows} features`);
          }
        }
        cases.push({
          rows,
          format,
          fileMB,
          read: measured.read,
          convert: measured.convert,
          enrich: measured.enrich,
        });
        console.log(`  ${rows} ${format} done`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  console.log('');
  printTable(cases);
  printGrowth(cases);
  return { benchmark: 'conversion-enrichment', cases };
}
