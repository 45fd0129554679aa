// `npm start`: builds the app (tsc -p tsconfig.build.json), then runs the offline stack (dist/local/start.js)
// in this same process, so the banner's "ready in" counts from here and includes the build. A build error
// stops here with tsc's own output and exit code.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
process.env.GEMFLOW_LAUNCHED_AT_MS = String(Date.now());
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  console.error('npm start: the build failed (above); nothing was started.');
  process.exit(build.status ?? 1);
}
process.env.GEMFLOW_BUILD_MS = String(Date.now() - Number(process.env.GEMFLOW_LAUNCHED_AT_MS));
require(path.join(root, 'dist/local/start.js'));
