// Stages the deployable app into dist/deploy (azure.yaml: services.api.dist), or lists it.
//
//   npm run package            build, then stage dist/deploy
//   node scripts/package.js --list   print the files that would be deployed
//
// Deployed: dist/functions/**, dist/shared/**, dist/web/** (the built results page), host.json,
// package.json, package-lock.json and the production node_modules, i.e. exactly the packages `npm ci --omit=dev --omit=optional` installs,
// computed from package-lock.json and copied from the local node_modules (no second install, no
// network). Everything is also filtered through .funcignore, with gitignore semantics, as the Functions
// tooling does. Left behind: local/, test/, bench/, dist/local, dist/bench, sources, maps and every
// dev or optional dependency (azurite, vitest, typescript, node, biome, jose, selfsigned, core tools).
const fs = require('node:fs');
const path = require('node:path');

const DEPLOY_DIR = 'dist/deploy';
const ROOT_FILES = ['host.json', 'package.json', 'package-lock.json'];
const DIST_DIRS = ['dist/functions', 'dist/shared', 'dist/web'];

/** One .funcignore line as a gitignore rule: { negate, dirOnly, regex } or undefined. */
function parseRule(line) {
  let pattern = line.replace(/\s+$/, '');
  if (pattern === '' || pattern.startsWith('#')) return undefined;
  const negate = pattern.startsWith('!');
  if (negate) pattern = pattern.slice(1);
  const dirOnly = pattern.endsWith('/');
  if (dirOnly) pattern = pattern.slice(0, -1);
  // A slash at the start or in the middle anchors the pattern at the root; otherwise it matches a
  // name at any depth.
  const anchored = pattern.includes('/');
  if (pattern.startsWith('/')) pattern = pattern.slice(1);
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(anchored ? `^${source}$` : `(?:^|/)${source}$`);
  return { negate, dirOnly, regex };
}

function readIgnoreRules(root) {
  const file = path.join(root, '.funcignore');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split(/\r?\n/).map(parseRule).filter(Boolean);
}

/** gitignore semantics: the last matching rule decides. */
function isIgnored(relPath, isDir, rules) {
  let ignored = false;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.regex.test(relPath)) ignored = !rule.negate;
  }
  return ignored;
}

/** Package directories that `npm ci --omit=dev --omit=optional` would install, from the lockfile. */
function productionPackageDirs(root) {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new Error('package-lock.json must be lockfileVersion 2 or 3 (run npm install with npm 7+)');
  }
  return Object.entries(lock.packages)
    .filter(
      ([key, entry]) =>
        key.startsWith('node_modules/') && !entry.dev && !entry.devOptional && !entry.optional,
    )
    .map(([key]) => key)
    .sort();
}

/** Files under dir (relative to root), skipping ignored folders the way git does. */
function walk(root, dir, rules, out) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const rel = `${dir}/${entry.name}`;
    const isDir = entry.isSymbolicLink()
      ? fs.statSync(path.join(root, rel)).isDirectory()
      : entry.isDirectory();
    if (isDir) {
      // Nested node_modules are packages of their own, listed separately from the lockfile.
      if (entry.name === 'node_modules') continue;
      if (!isIgnored(rel, true, rules)) walk(root, rel, rules, out);
    } else if (!isIgnored(rel, false, rules)) {
      out.push(rel);
    }
  }
}

/**
 * The deployable files of the project at root, relative and with forward slashes, sorted.
 * Needs a build (dist/functions) and an installed node_modules to list anything beyond the root files.
 */
function listPackageFiles(root) {
  const rules = readIgnoreRules(root);
  const files = [];
  for (const file of ROOT_FILES) {
    if (fs.existsSync(path.join(root, file)) && !isIgnored(file, false, rules)) files.push(file);
  }
  for (const dir of DIST_DIRS) walk(root, dir, rules, files);
  for (const dir of productionPackageDirs(root)) walk(root, dir, rules, files);
  return files.sort();
}

function stagePackage(root, outDir) {
  const files = listPackageFiles(root);
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const file of files) {
    const target = path.join(outDir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(root, file), target);
  }
  return files.length;
}

function main() {
  const root = path.resolve(__dirname, '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (!fs.existsSync(path.join(root, pkg.main))) {
    console.error(`${pkg.main} is missing: run "npm run build" first (or "npm run package", which does).`);
    process.exit(1);
  }
  if (process.argv.includes('--list')) {
    for (const file of listPackageFiles(root)) console.log(file);
    return;
  }
  const outDir = path.join(root, DEPLOY_DIR);
  const count = stagePackage(root, outDir);
  console.log(`Staged ${count} files into ${DEPLOY_DIR} (deployed by azd: azure.yaml services.api.dist).`);
}

module.exports = { listPackageFiles, productionPackageDirs, stagePackage, DEPLOY_DIR };

if (require.main === module) main();
