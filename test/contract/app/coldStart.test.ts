// What a new instance loads before its first request: the compiled entry (dist/functions/index.js), required
// in a fresh Node process as the worker requires it (bench/importProbe.ts serves `@azure/functions-core` as
// local/host/core.ts does). The registrations stay eager — the host indexes every function at that moment —
// while the Azure SDKs, zod, the settings and the format readers load on first use (functions/onDemand.ts).
// What it proves:
// - requiring the entry registers the app's functions and loads none of the heavy modules listed below;
// - the probe does see those modules when something does load them (shared/services.js), so the first check
//   can fail;
// - every loader of functions/onDemand.js resolves, compiled, to its module's exports through Node's own
//   `import()` of CommonJS, so a handler's first use finds what it destructures.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ImportProbe } from '../../../bench/importProbe.js';

const run = promisify(execFile);
const repoRoot = join(__dirname, '../../..');
const probeScript = join(repoRoot, 'dist/bench/importProbe.js');

/** Packages the entry must not load at import: each costs tens to hundreds of modules, or reads files. */
const HEAVY_PACKAGES = [
  '@azure/storage-blob',
  '@azure/identity',
  '@azure/msal-node',
  '@azure/keyvault-secrets',
  '@azure/data-tables',
  '@azure/core-rest-pipeline',
  'zod',
  'croner',
  'hyparquet',
  'hyparquet-writer',
  'proj4',
  'epsg-index',
  '@esri/proj-codes',
  'flatgeobuf',
  'flatbuffers',
  'wkx',
  'yauzl',
  'csv-parse',
  '@streamparser/json',
  // Tracing: the SDKs load on the first invocation, and only when a target is configured.
  '@azure/monitor-opentelemetry',
  '@azure/opentelemetry-instrumentation-azure-sdk',
  '@azure/core-tracing',
  '@opentelemetry/sdk-node',
  '@opentelemetry/sdk-trace-node',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/exporter-trace-otlp-http',
];

/** The app's own modules that pull those in (or are only needed once a function runs). */
const HEAVY_PROJECT_MODULES = [
  /^dist\/shared\/(services|config|health)\.js$/,
  /^dist\/shared\/api\/(schemas|openapi|listing|body|urls)\.js$/,
  /^dist\/shared\/(activities|auth|formats|parquet|staging|tomtom)\//,
  /^dist\/shared\/telemetry\/start\.js$/,
];

async function probe(entry: string, env: Record<string, string> = {}): Promise<ImportProbe> {
  const { stdout } = await run(process.execPath, [probeScript, join(repoRoot, entry)], {
    cwd: repoRoot,
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ImportProbe;
}

function heavyFilesIn(files: string[]): string[] {
  return files.filter(
    (file) =>
      HEAVY_PACKAGES.some((pkg) => file.includes(`node_modules/${pkg}/`)) ||
      HEAVY_PROJECT_MODULES.some((pattern) => pattern.test(file)),
  );
}

/** One line per heavy file: which package or module it is, so a failure names what crept in. */
function heavyPackagesIn(files: string[]): string[] {
  const named = heavyFilesIn(files).map(
    (file) => HEAVY_PACKAGES.find((pkg) => file.includes(`node_modules/${pkg}/`)) ?? file,
  );
  return [...new Set(named)].sort();
}

describe('the entry a new instance imports', () => {
  it('registers every function and loads none of the heavy modules', async () => {
    const entry = await probe('dist/functions/index.js');
    // Workflows, activities of each set, and each kind of trigger: registration is not deferred.
    expect(entry.functions).toEqual(
      expect.arrayContaining([
        'matchFile',
        'validateInput',
        'deliverResults',
        'listStorages',
        'getStorageDetails',
        'retentionRun',
        'retireMatches',
        'onInboxUpload',
        'sweep',
        'retention',
        'startMatch',
        'getStorages',
        'health',
        'healthReport',
        'openapi',
      ]),
    );
    expect(heavyPackagesIn(entry.files)).toEqual([]);
  });

  it('loads no tracing SDK at import even when tracing is configured (it starts on the first invocation)', async () => {
    const targets: Record<string, string>[] = [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
      { APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000002' },
    ];
    for (const env of targets) {
      const entry = await probe('dist/functions/index.js', env);
      expect(entry.functions).toContain('matchFile');
      expect(heavyPackagesIn(entry.files), Object.keys(env)[0]).toEqual([]);
    }
  });

  it('sees the heavy modules when something loads them', async () => {
    const services = await probe('dist/shared/services.js');
    expect(heavyPackagesIn(services.files)).toEqual(
      expect.arrayContaining(['@azure/storage-blob', '@azure/identity', '@azure/keyvault-secrets', 'zod']),
    );
  });

  it('resolves every on-demand loader to its module, compiled', async () => {
    // Each loader is called as a handler calls it; the names listed are what the handlers destructure.
    const script = `
      const loaders = require(${JSON.stringify(join(repoRoot, 'dist/functions/onDemand.js'))});
      Promise.all(Object.entries(loaders).map(async ([name, load]) => [name, Object.keys(await load()).sort()]))
        .then((all) => console.log(JSON.stringify(Object.fromEntries(all))));
    `;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: repoRoot, timeout: 60_000 });
    const exports = JSON.parse(stdout) as Record<string, string[]>;
    expect(exports.loadConfig).toContain('getSettings');
    expect(exports.loadServices).toContain('getServices');
    expect(exports.loadSchemas).toEqual(
      expect.arrayContaining(['resolveStartMatch', 'parseListMatchesQuery', 'startMatchRequestSchema']),
    );
    expect(exports.loadBody).toContain('readJsonBody');
    expect(exports.loadListing).toEqual(
      expect.arrayContaining(['planListMatches', 'encodeContinuationToken']),
    );
    expect(exports.loadUrls).toContain('publicUrl');
    expect(exports.loadOpenApi).toContain('buildOpenApiDocument');
    expect(exports.loadHealth).toEqual(expect.arrayContaining(['healthReport', 'liveness']));
    expect(exports.loadMatchActivities).toContain('matchActivities');
    expect(exports.loadInventory).toEqual(
      expect.arrayContaining(['inventoryActivities', 'readInventory', 'writeSweepReport']),
    );
  });
});
