/**
 * One cold import, in a process of its own: `node dist/bench/importProbe.js <entry>` serves
 * `@azure/functions-core` the way the Node worker does (local/host/core.ts), then times `require(entry)` and
 * nothing else, and prints one JSON line: the wall and CPU milliseconds, the modules the require added (files in
 * `require.cache`, and Node's own modules from `process.moduleLoadList`), the process's peak RSS, the functions
 * the entry registered and, relative to the working directory, every file it loaded. Used by the cold-start
 * benchmark (bench/coldStart.ts) and by the test that keeps heavy modules out of the entry's import.
 */

import { relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { coreState, installCoreShim } from '../local/host/core.js';

export interface ImportProbe {
  entry: string;
  importMs: number;
  /** CPU time (user + system) the require took: less sensitive than wall time to other processes' load. */
  importCpuMs: number;
  /** JavaScript files the require added to `require.cache`. */
  modules: number;
  /** Node's built-in modules and bindings the require loaded first. */
  builtins: number;
  /** The process's peak resident set (ru_maxrss), Node itself included. */
  peakRssMiB: number;
  /** The resident set just before the require. */
  rssBeforeMiB: number;
  functions: string[];
  files: string[];
}

function probe(entry: string): ImportProbe {
  installCoreShim();
  const cachedBefore = new Set(Object.keys(require.cache));
  const builtinsBefore = moduleLoadList().length;
  const rssBefore = process.memoryUsage.rss();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  require(entry);
  const importMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const files = Object.keys(require.cache).filter((file) => !cachedBefore.has(file));
  return {
    entry,
    importMs,
    importCpuMs: (cpu.user + cpu.system) / 1000,
    modules: files.length,
    builtins: moduleLoadList().length - builtinsBefore,
    // ru_maxrss is in KiB on Linux.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rssBeforeMiB: rssBefore / 2 ** 20,
    functions: [...coreState.registrations.keys()],
    files: files.map((file) => relative(process.cwd(), file)),
  };
}

/** Node's list of the built-in modules and bindings it loaded (an undocumented but long-stable property). */
function moduleLoadList(): readonly string[] {
  return (process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? [];
}

const entry = process.argv[2];
if (!entry) {
  console.error('usage: node dist/bench/importProbe.js <entry file>');
  process.exitCode = 2;
} else {
  console.log(JSON.stringify(probe(resolve(entry))));
}
