// What ships is what is tested. The package is staged by the function `npm run package` runs
// (scripts/package.js stagePackage), into a temporary folder with no node_modules above it, so nothing from the
// repository can fill a gap Node would otherwise resolve by walking up. Then: every file its code loads is
// inside it; it holds nothing for development; it loads on a Node 22 without require(esm); and the local host
// runs it with the app settings infra/app/api.bicep gives the function app (identity-based storage, Key Vault,
// managed identity), local stand-ins replacing only what Azure and TomTom have of their own.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import type { Stack } from '../../../local/standins/stack.js';
import { DEFAULT_OVERTURE_RELEASE } from '../../../local/standins/stack.js';
import { listPackageFiles, stagePackage } from '../../../scripts/package.js';
import { deployedAppSettings } from '../../support/bicep.js';
import {
  api,
  readOutbox,
  readOutboxJson,
  readParquet,
  runDocuments,
  uploadInbox,
  useApp,
  waitForMatch,
} from '../harness.js';
import { unresolvedImports } from './imports.js';

const run = promisify(execFile);
const repoRoot = resolve(__dirname, '../../..');
const NO_REQUIRE_ESM = '--no-experimental-require-module';

let workDir: string;
let deployDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'gemflow-package-'));
  deployDir = join(workDir, 'deploy');
  stagePackage(repoRoot, deployDir);
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the staged package', () => {
  it('contains every file its code needs: every require and import resolves inside it', () => {
    const { files, unresolved } = unresolvedImports(deployDir, 'dist/functions/index.js');
    // The app, durable-functions, the Azure SDK and their dependencies, lazily loaded modules included.
    expect(files).toBeGreaterThan(500);
    expect(unresolved).toEqual([]);
  });

  it('holds no local/, cli/, test/ or bench/ code and no dev or optional dependency', () => {
    const staged = listPackageFiles(deployDir);
    expect(staged).toEqual(expect.arrayContaining(['host.json', 'package.json', 'dist/functions/index.js']));
    expect(staged.filter((f) => /^(dist\/)?(local|cli|test|bench|scripts|infra)\//.test(f))).toEqual([]);
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const notForProduction = Object.entries(lock.packages)
      .filter(([key, entry]) => key && (entry.dev || entry.optional || entry.devOptional))
      .map(([key]) => `${key}/`);
    expect(notForProduction).toEqual(
      expect.arrayContaining([
        'node_modules/vitest/',
        'node_modules/azurite/',
        // The gem-flow command line's own libraries.
        'node_modules/commander/',
        'node_modules/cli-progress/',
        'node_modules/cli-table3/',
      ]),
    );
    expect(staged.filter((file) => notForProduction.some((dir) => file.startsWith(dir)))).toEqual([]);
    // The format library's registry ships one file per EPSG code, not its 8 MB all-in-one copy.
    expect(staged).toEqual(expect.arrayContaining(['node_modules/epsg-index/s/28992.json']));
    expect(staged).not.toContain('node_modules/epsg-index/all.json');
    expect(staged).toContain('node_modules/@esri/proj-codes/pe_list_geogcs.json');
    expect(staged).not.toContain('node_modules/@esri/proj-codes/pe_list_projcs.json');
  });

  it('writes GEM-ready Parquet (hyparquet-writer through import()) and reprojects, on Node 22 without require(esm)', async () => {
    const out = join(workDir, 'gem-ready.parquet');
    const script = `
      const formats = ${JSON.stringify(join(deployDir, 'dist/shared/formats'))};
      const { createGemParquetWriter } = require(formats + '/gemParquet.js');
      const { projectionFor } = require(formats + '/crs.js');
      const { validateRoadMatchingInput } = require(${JSON.stringify(join(deployDir, 'dist/shared/parquet/roadMatching.js'))});
      const { bufferAsyncBuffer } = require(${JSON.stringify(join(deployDir, 'dist/shared/parquet/asyncBuffer.js'))});
      (async () => {
        const writer = await createGemParquetWriter({ path: ${JSON.stringify(out)}, withNavigable: true });
        await writer.write({ id: 'a', wkt: 'LINESTRING (4.9 52.37, 4.91 52.38)', isNavigable: true, sourceIndex: 0, part: 0 });
        await writer.finish();
        const report = await validateRoadMatchingInput(bufferAsyncBuffer(new Uint8Array(require('node:fs').readFileSync(${JSON.stringify(out)}))));
        const rd = await projectionFor({ kind: 'epsg', code: 28992, source: 'package test' });
        console.log(JSON.stringify({ requireModule: process.features.require_module, valid: report.valid, lonLat: rd.toLonLat(155000, 463000) }));
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    const { stdout } = await run(process.execPath, [NO_REQUIRE_ESM, '-e', script], {
      cwd: deployDir,
      env: { PATH: process.env.PATH ?? '' },
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      requireModule: boolean;
      valid: boolean;
      lonLat: number[];
    };
    expect(result.requireModule).toBe(false);
    expect(result.valid).toBe(true);
    expect(result.lonLat[0]).toBeCloseTo(5.3872, 4);
    expect(result.lonLat[1]).toBeCloseTo(52.1552, 4);
  });

  it('loads on Node 22 without require(esm), registers every function and validates Parquet with hyparquet', async () => {
    const valid = join(workDir, 'valid.parquet');
    const invalid = join(workDir, 'duplicate-ids.parquet');
    writeFileSync(valid, roadMatchingSample('valid', { rows: 30, seed: 3 }));
    writeFileSync(invalid, roadMatchingSample('duplicate-ids', { rows: 30, seed: 3 }));
    const fromPackage = await loadInChild(deployDir, [NO_REQUIRE_ESM], [valid, invalid]);
    const fromSources = await loadInChild(repoRoot, [], []);
    expect(fromPackage.requireModule).toBe(false);
    expect(fromPackage.functions).toEqual(fromSources.functions);
    expect(fromPackage.functions.length).toBeGreaterThan(15);
    expect(fromPackage.reports).toEqual([
      { valid: true, rowCount: 30, rules: [] },
      { valid: false, rowCount: 30, rules: ['id-unique'] },
    ]);
  });
});

/**
 * Loads `<appRoot>/dist/functions/index.js` in a fresh Node (no app settings in its environment), as the
 * worker does (behind the local host's core-API shim), then validates each file with the app's own validator.
 */
async function loadInChild(appRoot: string, nodeArgs: string[], parquetFiles: string[]) {
  const script = `
    const { readFileSync } = require('node:fs');
    const core = require(${JSON.stringify(join(repoRoot, 'dist/local/host/core.js'))});
    core.installCoreShim();
    require(${JSON.stringify(join(appRoot, 'dist/functions/index.js'))});
    const { validateRoadMatchingInput } = require(${JSON.stringify(join(appRoot, 'dist/shared/parquet/roadMatching.js'))});
    const { bufferAsyncBuffer } = require(${JSON.stringify(join(appRoot, 'dist/shared/parquet/asyncBuffer.js'))});
    (async () => {
      const reports = [];
      for (const file of ${JSON.stringify(parquetFiles)}) {
        const report = await validateRoadMatchingInput(bufferAsyncBuffer(new Uint8Array(readFileSync(file))));
        reports.push({ valid: report.valid, rowCount: report.rowCount, rules: [...new Set(report.problems.map((p) => p.rule))] });
      }
      console.log(JSON.stringify({
        requireModule: process.features.require_module,
        functions: [...core.coreState.registrations.keys()],
        reports,
      }));
    })().catch((error) => { console.error(error); process.exit(1); });
  `;
  const { stdout } = await run(process.execPath, [...nodeArgs, '-e', script], {
    cwd: appRoot,
    env: { PATH: process.env.PATH ?? '' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    requireModule: boolean;
    functions: string[];
    reports: { valid: boolean; rowCount: number; rules: string[] }[];
  };
}

/** Never contacted: the local host exports no telemetry, and the app does not read this setting. */
const NO_TELEMETRY =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';

/** The settings `azd up` gives the function app, with the stack standing in for Azure's and TomTom's own. */
async function deploymentSettings(
  stack: Stack,
): Promise<{ bicep: Record<string, string>; all: Record<string, string> }> {
  const { info, settings } = stack;
  const bicep = await deployedAppSettings({
    infraDir: join(repoRoot, 'infra'),
    azdEnvironment: {
      AZURE_ENV_NAME: 'local',
      AZURE_LOCATION: 'swedencentral',
      // TomTom's API host is a deployment parameter (main.parameters.json); here it is the simulator.
      TOMTOM_API_BASE_URL: info.simulatorUrl,
      DEFAULT_STORAGE_ID: info.pdgStorageId,
      DEFAULT_OVERTURE_RELEASE,
    },
    resources: {
      // The storage account's endpoints (Azure formats them with a trailing slash) → Azurite.
      'storage.properties.primaryEndpoints.blob': `${info.blobUrl}/`,
      'storage.properties.primaryEndpoints.queue': `${info.queueUrl}/`,
      'storage.properties.primaryEndpoints.table': `${info.tableUrl}/`,
      // The user-assigned identity → the identity stand-in's; the vault → the Key Vault stand-in.
      'identity.outputs.clientId': info.managedIdentity.clientId,
      'keyVault.outputs.uri': `${info.keyVaultUrl}/`,
      'monitoring.outputs.connectionString': NO_TELEMETRY,
    },
  });
  const all = {
    ...bicep,
    // Set by the platform in every Flex Consumption app (runtime from functionAppConfig, App Service identity).
    FUNCTIONS_WORKER_RUNTIME: 'node',
    IDENTITY_ENDPOINT: settings.IDENTITY_ENDPOINT!,
    IDENTITY_HEADER: settings.IDENTITY_HEADER!,
    // Local-only, for stand-ins of what Azure and TomTom run themselves: a vault at https://127.0.0.1:<port>,
    // TomTom's HashiCorp Vault, and Entra for the PDG storage's service principal.
    KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION: 'true',
    TOMTOM_VAULT_URL: settings.TOMTOM_VAULT_URL!,
    AZURE_AUTHORITY_HOST: settings.AZURE_AUTHORITY_HOST!,
    PDG_DISABLE_INSTANCE_DISCOVERY: 'true',
  };
  return { bicep, all };
}

describe('the package on the local host, with the settings infra/app/api.bicep sets', () => {
  let bicep: Record<string, string>;
  // Options read when the hook runs: deployDir is staged by the file's first beforeAll.
  const app = useApp(
    () => ({
      name: 'package',
      appRoot: deployDir,
      // The worst Node 22 Flex may run: no require(esm), for the host process and the app it loads.
      hostNodeArgs: [NO_REQUIRE_ESM],
      appSettings: async (stack) => {
        const settings = await deploymentSettings(stack);
        bicep = settings.bicep;
        return settings.all;
      },
    }),
    180_000,
  );

  beforeAll(() => {
    // Provisioning seeds the callback signing secret that NOTIFY_SIGNING_SECRET_NAME names.
    app.stack.keyVault.setSecret(
      bicep.NOTIFY_SIGNING_SECRET_NAME!,
      'a-provisioned-signing-secret-for-callbacks',
    );
  });

  it('runs on identity-based storage, Key Vault and managed identity, with no connection string or key', async () => {
    expect(bicep.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(Object.keys(bicep).some((name) => name === 'AzureWebJobsStorage')).toBe(false);
    const report = await api(app).get('/api/health/report');
    expect(report.body.settingsProblems).toEqual([]);
    expect(report.status).toBe(200);
    // The app sees exactly the Bicep's values, and none of the test runner's own stack settings.
    for (const [name, value] of Object.entries(bicep)) {
      const shown = report.body.settings[name];
      // An empty value counts as unset (shared/config.ts), as the Bicep's empty allow-list does.
      if (shown) expect(shown, name).toEqual(value === '' ? { set: false } : { set: true, value });
    }
    for (const name of ['AzureWebJobsStorage', 'TOMTOM_API_KEY', 'NOTIFY_SIGNING_SECRET']) {
      expect(report.body.settings[name], name).toEqual({ set: false, secret: true });
    }
    expect(report.body.node).toBe(process.version);
  });

  it('registers every function, none disabled', () => {
    expect(app.functionErrors).toEqual({});
    expect(app.functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['matchFile', 'onInboxUpload', 'sweep', 'health', 'healthReport', 'startMatch']),
    );
  });

  it('answers GET /api/health', async () => {
    const response = await api(app).request('GET', '/api/health', { key: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'alive' });
  });

  it('turns one valid upload into results in the outbox', async () => {
    const rows = 25;
    const upload = await uploadInbox(
      app,
      'shipped-roads.parquet',
      roadMatchingSample('valid', { rows, seed: 11 }),
    );
    const status = await waitForMatch(app, upload.matchId, { timeoutMs: 90_000 });
    expect(status).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded' });
    const documents = runDocuments('shipped-roads.parquet', upload.matchId);
    const results = await readOutbox(app, documents.results);
    expect(results, `outbox/${documents.results}`).toBeDefined();
    const resultRows = await readParquet(results!);
    expect(resultRows.length).toBeGreaterThan(0);
    const inputIds = new Set(
      (await readParquet(roadMatchingSample('valid', { rows, seed: 11 }))).map((r) => String(r.id)),
    );
    for (const row of resultRows) expect(inputIds.has(String(row.id))).toBe(true);
    const summary = await readOutboxJson<{ instanceId: string }>(app, documents.summary);
    expect(summary?.instanceId).toBe(upload.matchId);
  }, 120_000);
});
