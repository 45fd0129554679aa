/**
 * The cold-start benchmark: what every new instance pays to import the app's entry before its first request.
 * Three entries, built side by side by `npm run bench` (tsc): a hello-world v4 app (bench/apps/helloWorld.ts),
 * a minimal durable app of one HTTP starter, one orchestration and one activity (bench/apps/minimalDurable.ts),
 * and gem-flow's `dist/functions/index.js`; when `npm run package` has staged `dist/deploy`, its copy of the
 * entry too (its own production node_modules). Each import runs in a fresh child process (bench/importProbe.ts)
 * that times `require(entry)` alone; rounds are interleaved so machine load falls on every entry alike, and a
 * first warm-up round (the disk cache) is dropped. Reported per entry: the median, fastest and slowest import,
 * its median CPU time (steadier than wall time on a shared machine), the modules loaded, the median peak RSS,
 * and the ratios to the minimal durable app (the goal: at most 1.5×) and to the hello-world app; then the
 * packages gem-flow loads beyond the minimal durable app, which explain the difference.
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { runNodeChild } from './child.js';
import type { ImportProbe } from './importProbe.js';

const ROOT = resolve(__dirname, '..', '..');
const PROBE = join(ROOT, 'dist', 'bench', 'importProbe.js');
const RUNS = Number(process.env.GEMFLOW_BENCH_COLD_RUNS ?? 15);
const CHILD_TIMEOUT_MS = 60_000;
/** The goal: gem-flow's entry at most this many times the minimal durable app's import time. */
export const COLD_START_GOAL_RATIO = 1.5;

interface Entry {
  name: string;
  file: string;
}

export interface EntryFigures {
  name: string;
  file: string;
  functions: number;
  modules: number;
  builtins: number;
  medianImportMs: number;
  minImportMs: number;
  maxImportMs: number;
  medianImportCpuMs: number;
  medianPeakRssMiB: number;
  vsMinimalDurable: number;
  vsHelloWorld: number;
}

export interface ColdStartResult {
  runs: number;
  node: string;
  cpu: string;
  entries: EntryFigures[];
  /** Modules gem-flow's entry loads that the minimal durable app does not, by package (or project folder). */
  extraModulesByPackage: Record<string, number>;
  goalRatio: number;
  goalMet: boolean;
}

function entries(): Entry[] {
  const list: Entry[] = [
    { name: 'hello-world v4 app', file: join(ROOT, 'dist', 'bench', 'apps', 'helloWorld.js') },
    { name: 'minimal durable app', file: join(ROOT, 'dist', 'bench', 'apps', 'minimalDurable.js') },
    { name: 'gem-flow', file: join(ROOT, 'dist', 'functions', 'index.js') },
  ];
  const deployed = join(ROOT, 'dist', 'deploy', 'dist', 'functions', 'index.js');
  if (existsSync(deployed)) list.push({ name: 'gem-flow (dist/deploy)', file: deployed });
  return list;
}

async function runProbe(file: string): Promise<ImportProbe> {
  const exit = await runNodeChild([PROBE, file], { timeoutMs: CHILD_TIMEOUT_MS, cwd: ROOT });
  if (exit.code === 0 && exit.lastLine) return JSON.parse(exit.lastLine) as ImportProbe;
  throw new Error(`importing ${file} failed (${exit.signal ?? `exit ${exit.code}`}): ${exit.stderr.trim()}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `node_modules/<package>` (scoped included), or the project folder (`dist/shared`) a loaded file belongs to. */
export function packageOf(file: string): string {
  const parts = file.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return parts.slice(0, 2).join('/');
  const name = parts[at + 1] ?? '';
  return name.startsWith('@') ? `${name}/${parts[at + 2]}` : name;
}

function countByPackage(files: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of files) counts.set(packageOf(file), (counts.get(packageOf(file)) ?? 0) + 1);
  return counts;
}

function extraModules(gemflow: ImportProbe, minimal: ImportProbe): Record<string, number> {
  const base = countByPackage(minimal.files);
  const extra = [...countByPackage(gemflow.files)]
    .map(([pkg, n]) => [pkg, n - (base.get(pkg) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(extra);
}

function figures(entry: Entry, probes: ImportProbe[], minimalMs: number, helloMs: number): EntryFigures {
  const times = probes.map((p) => p.importMs);
  const last = probes.at(-1)!;
  const medianImportMs = median(times);
  return {
    name: entry.name,
    file: entry.file,
    functions: last.functions.length,
    modules: last.modules,
    builtins: last.builtins,
    medianImportMs,
    minImportMs: Math.min(...times),
    maxImportMs: Math.max(...times),
    medianImportCpuMs: median(probes.map((p) => p.importCpuMs)),
    medianPeakRssMiB: median(probes.map((p) => p.peakRssMiB)),
    vsMinimalDurable: medianImportMs / minimalMs,
    vsHelloWorld: medianImportMs / helloMs,
  };
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);

function printTable(result: ColdStartResult): void {
  const header = ['entry', 'functions', 'modules', 'import ms, median (min–max)', 'CPU ms', 'peak RSS MiB'];
  const rows = result.entries.map((e) => [
    e.name,
    String(e.functions),
    `${e.modules} + ${e.builtins} built-in`,
    `${fixed(e.medianImportMs)} (${fixed(e.minImportMs)}–${fixed(e.maxImportMs)})`,
    fixed(e.medianImportCpuMs),
    fixed(e.medianPeakRssMiB),
    `${fixed(e.vsMinimalDurable, 2)}×`,
    `${fixed(e.vsHelloWorld, 1)}×`,
  ]);
  const all = [[...header, '÷ minimal durable', '÷ hello-world'], ...rows];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  for (const row of all) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

export async function runColdStartBench(): Promise<ColdStartResult> {
  const list = entries();
  const probes = new Map<string, ImportProbe[]>(list.map((e) => [e.file, []]));
  for (let round = 0; round <= RUNS; round++) {
    for (const entry of list) {
      const probe = await runProbe(entry.file);
      // Round 0 warms the disk cache for every entry alike and is not counted.
      if (round > 0) probes.get(entry.file)!.push(probe);
    }
  }
  const [hello, minimal, gemflow] = list.map((e) => probes.get(e.file)!);
  const helloMs = median(hello!.map((p) => p.importMs));
  const minimalMs = median(minimal!.map((p) => p.importMs));
  const entryFigures = list.map((e) => figures(e, probes.get(e.file)!, minimalMs, helloMs));
  const gemflowRatio = entryFigures[2]!.vsMinimalDurable;
  const result: ColdStartResult = {
    runs: RUNS,
    node: process.version,
    cpu: `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}`,
    entries: entryFigures,
    extraModulesByPackage: extraModules(gemflow!.at(-1)!, minimal!.at(-1)!),
    goalRatio: COLD_START_GOAL_RATIO,
    goalMet: gemflowRatio <= COLD_START_GOAL_RATIO,
  };
  console.log(
    `Cold start: require() of each entry in a fresh process, median of ${RUNS} interleaved rounds after one ` +
      `warm-up round; Node ${result.node}, ${result.cpu}`,
  );
  printTable(result);
  const extra = Object.entries(result.extraModulesByPackage).map(([pkg, n]) => `${pkg} ${n}`);
  console.log(`gem-flow loads beyond the minimal durable app: ${extra.join(', ') || 'nothing'}`);
  console.log(
    `Goal: gem-flow ≤ ${COLD_START_GOAL_RATIO}× the minimal durable app — ${fixed(gemflowRatio, 2)}×, ` +
      `${result.goalMet ? 'met' : 'NOT met'}.`,
  );
  return result;
}
