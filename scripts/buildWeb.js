// Builds the results page (web/) into dist/web, which the deployment package carries (scripts/package.js)
// and the app serves at /api/ui/ (functions/http/ui.ts, shared/ui/staticAssets.ts).
//
//   node scripts/buildWeb.js      (part of npm run build)
//
// esbuild bundles three entry points, each a script and a stylesheet with content-hashed names: the page
// (web/src/main.ts), the map (web/src/map.ts, Leaflet) and the API explorer (web/src/swagger.ts, Swagger
// UI); the last two load only when a view needs them. index.html gets the hashed names; every text file gets
// a Brotli and a gzip copy; manifest.json lists every file the app may serve with its type, hash and copies,
// and the sizes are printed. Licence comments go to .LEGAL.txt files beside the bundles, served with them.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const WEB = path.join(ROOT, 'web');
const OUT = path.join(ROOT, 'dist', 'web');
/** The page's route under the Functions host's route prefix (host.json extensions.http.routePrefix). */
const PUBLIC_PATH = '/api/ui';
const ENTRIES = { main: 'src/main.ts', map: 'src/map.ts', swagger: 'src/swagger.ts' };
const COMPRESS_FROM_BYTES = 1024;

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

async function bundle() {
  const result = await esbuild.build({
    absWorkingDir: WEB,
    entryPoints: ENTRIES,
    outdir: path.join(OUT, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    publicPath: `${PUBLIC_PATH}/assets`,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    platform: 'browser',
    loader: { '.png': 'file', '.svg': 'file' },
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const named = {};
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (!output.entryPoint) continue;
    const name = Object.keys(ENTRIES).find(
      (key) => path.join(WEB, ENTRIES[key]) === path.resolve(WEB, output.entryPoint),
    );
    named[`${name}.js`] = `/${path.relative(OUT, path.resolve(WEB, file)).split(path.sep).join('/')}`;
    if (output.cssBundle) {
      named[`${name}.css`] =
        `/${path.relative(OUT, path.resolve(WEB, output.cssBundle)).split(path.sep).join('/')}`;
    }
  }
  return named;
}

function writeIndex(named) {
  const template = fs.readFileSync(path.join(WEB, 'index.html'), 'utf8');
  const html = template.replace(/\{\{([a-z]+\.(?:js|css))\}\}/g, (_, key) => {
    if (!named[key]) throw new Error(`web/index.html names ${key}, which the build did not produce`);
    return `${PUBLIC_PATH}${named[key]}`;
  });
  fs.writeFileSync(path.join(OUT, 'index.html'), html);
}

function writeManifest() {
  const files = {};
  const sizes = [];
  for (const full of walk(OUT).sort()) {
    const rel = path.relative(OUT, full).split(path.sep).join('/');
    if (rel === 'manifest.json' || /\.(br|gz)$/.test(rel)) continue;
    const bytes = fs.readFileSync(full);
    const contentType = CONTENT_TYPES[path.extname(rel)] ?? 'application/octet-stream';
    const encodings = [];
    const size = { rel, raw: bytes.length, br: null, gzip: null };
    if (/^(text\/|application\/json|image\/svg)/.test(contentType) && bytes.length >= COMPRESS_FROM_BYTES) {
      const br = zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
      const gz = zlib.gzipSync(bytes, { level: 9 });
      fs.writeFileSync(`${full}.br`, br);
      fs.writeFileSync(`${full}.gz`, gz);
      encodings.push('br', 'gzip');
      size.br = br.length;
      size.gzip = gz.length;
    }
    files[rel] = {
      contentType,
      etag: `"${crypto.createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`,
      immutable: rel.startsWith('assets/'),
      encodings,
      bytes: bytes.length,
    };
    sizes.push(size);
  }
  fs.writeFileSync(
    path.join(OUT, 'manifest.json'),
    `${JSON.stringify({ version: 1, index: 'index.html', files }, null, 2)}\n`,
  );
  return sizes;
}

function kib(n) {
  return n === null ? '-' : `${(n / 1024).toFixed(1)} KiB`;
}

async function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const named = await bundle();
  writeIndex(named);
  const sizes = writeManifest();
  if (!process.argv.includes('--quiet')) {
    console.log('results page (dist/web): file, bytes, brotli, gzip');
    for (const s of sizes)
      console.log(
        `  ${s.rel.padEnd(44)} ${kib(s.raw).padStart(11)} ${kib(s.br).padStart(11)} ${kib(s.gzip).padStart(11)}`,
      );
  }
}

module.exports = { OUT, PUBLIC_PATH };

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
