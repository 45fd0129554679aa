// scripts/package.js: what goes into the deployment package (azure.yaml ships dist/deploy).
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEPLOY_DIR,
  listPackageFiles,
  productionPackageDirs,
  stagePackage,
} from '../../../scripts/package.js';

const root = path.resolve(__dirname, '../../..');

function write(base: string, file: string, content = 'x') {
  mkdirSync(path.dirname(path.join(base, file)), { recursive: true });
  writeFileSync(path.join(base, file), content);
}

describe('deployment package: a fake project with the real .funcignore', () => {
  let project: string;
  let files: string[];

  beforeAll(() => {
    project = mkdtempSync(path.join(tmpdir(), 'gemflow-package-'));
    cpSync(path.join(root, '.funcignore'), path.join(project, '.funcignore'));
    write(project, 'package.json', JSON.stringify({ name: 'fake', main: 'dist/functions/index.js' }));
    write(project, 'host.json', '{}');
    write(
      project,
      'package-lock.json',
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { name: 'fake' },
          'node_modules/prod-a': { version: '1.0.0' },
          'node_modules/prod-a/node_modules/nested-prod': { version: '1.0.0' },
          'node_modules/@scope/prod-b': { version: '1.0.0' },
          'node_modules/dev-only': { version: '1.0.0', dev: true },
          'node_modules/optional-only': { version: '1.0.0', optional: true },
          'node_modules/dev-optional': { version: '1.0.0', devOptional: true },
        },
      }),
    );
    for (const file of [
      'dist/functions/index.js',
      'dist/functions/index.d.ts',
      'dist/functions/index.js.map',
      'dist/functions/http/health.js',
      'dist/shared/config.js',
      'dist/local/start.js',
      'dist/cli/main.js',
      'dist/bench/run.js',
      'dist/test/x.test.js',
      'dist/deploy/host.json',
      'functions/index.ts',
      'shared/config.ts',
      'local/start.ts',
      'cli/main.ts',
      'test/unit/a.test.ts',
      'bench/run.ts',
      'infra/main.bicep',
      'scripts/package.js',
      'docs/guide.md',
      'local.settings.json',
      'README.md',
      'node_modules/prod-a/index.js',
      'node_modules/prod-a/package.json',
      'node_modules/prod-a/src/index.ts',
      'node_modules/prod-a/local/data.js',
      'node_modules/prod-a/node_modules/nested-prod/index.js',
      'node_modules/@scope/prod-b/lib/index.js',
      'node_modules/@scope/prod-b/lib/index.d.ts',
      'node_modules/dev-only/index.js',
      'node_modules/optional-only/index.js',
      'node_modules/dev-optional/index.js',
      'node_modules/not-in-lockfile/index.js',
      'node_modules/.package-lock.json',
    ]) {
      write(project, file);
    }
    files = listPackageFiles(project);
  });

  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('includes the built app, host.json, package.json and package-lock.json', () => {
    for (const file of [
      'dist/functions/index.js',
      'dist/functions/index.d.ts',
      'dist/functions/http/health.js',
      'dist/shared/config.js',
      'host.json',
      'package.json',
      'package-lock.json',
    ]) {
      expect(files).toContain(file);
    }
  });

  it('includes production packages, nested ones, and their own folders named like ours', () => {
    for (const file of [
      'node_modules/prod-a/index.js',
      'node_modules/prod-a/package.json',
      'node_modules/prod-a/local/data.js',
      'node_modules/prod-a/node_modules/nested-prod/index.js',
      'node_modules/@scope/prod-b/lib/index.js',
      'node_modules/@scope/prod-b/lib/index.d.ts',
    ]) {
      expect(files).toContain(file);
    }
  });

  it('excludes sources, maps, local/cli/test/bench code, dev and optional packages', () => {
    const excluded = files.filter((file) =>
      /^(local|cli|test|bench|infra|scripts|docs|functions|shared)\/|^dist\/(local|cli|bench|test|deploy)\/|\.map$|\.ts$(?<!\.d\.ts)|^local\.settings|^README/.test(
        file,
      ),
    );
    expect(excluded).toEqual([]);
    for (const pkg of [
      'dev-only',
      'optional-only',
      'dev-optional',
      'not-in-lockfile',
      '.package-lock.json',
    ]) {
      expect(files.filter((file) => file.startsWith(`node_modules/${pkg}`))).toEqual([]);
    }
  });

  it('stages exactly the listed files', () => {
    const out = path.join(project, DEPLOY_DIR);
    expect(stagePackage(project, out)).toBe(files.length);
    const staged: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(path.join(out, dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(rel);
        else staged.push(rel);
      }
    };
    walk('');
    expect(staged.sort()).toEqual(files);
    // Staging again does not package the previous staging.
    expect(stagePackage(project, out)).toBe(files.length);
  });
});

describe('deployment package: this repository', () => {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
  };
  const devDependencies = Object.keys(
    (
      JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
        devDependencies: Record<string, string>;
      }
    ).devDependencies,
  );
  const files = listPackageFiles(root);
  const packageDirs = new Set(productionPackageDirs(root));

  it('lists the root files and production packages, nothing from local/, test/ or bench/', () => {
    for (const file of ['host.json', 'package.json', 'package-lock.json']) expect(files).toContain(file);
    expect(files).toContain('node_modules/durable-functions/package.json');
    expect(files).toContain('node_modules/@azure/functions/package.json');
    expect(files.filter((file) => /^(local|test|bench)\/|^dist\/(local|bench|test)\//.test(file))).toEqual(
      [],
    );
  });

  it('leaves out every dev dependency (azurite, vitest, typescript, node, biome, jose, selfsigned…)', () => {
    expect(devDependencies).toEqual(expect.arrayContaining(['azurite', 'vitest', 'typescript', 'node']));
    for (const name of devDependencies) {
      const entry = lock.packages[`node_modules/${name}`];
      if (entry && !entry.dev) continue; // also a production dependency of something else
      expect(packageDirs.has(`node_modules/${name}`), name).toBe(false);
      expect(
        files.some((file) => file.startsWith(`node_modules/${name}/`)),
        name,
      ).toBe(false);
    }
    const devDirs = Object.entries(lock.packages)
      .filter(([key, entry]) => key && (entry.dev || entry.optional || entry.devOptional))
      .map(([key]) => `${key}/`);
    expect(devDirs.length).toBeGreaterThan(100);
    expect(files.filter((file) => devDirs.some((dir) => file.startsWith(dir)))).toEqual([]);
  });
});
