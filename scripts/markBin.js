// Marks the package's bin (package.json "bin", dist/cli/main.js) executable after tsc wrote it: tsc emits
// files with the default mode, and `npx gem-flow` in a clone runs the bin through the shell, which refuses a
// file without the executable bit ("Permission denied"). npm sets the bit only on bins of installed packages.
//
//   node scripts/markBin.js      (part of npm run build; the tests' build step calls it too)
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { bin } = require(path.join(root, 'package.json'));
for (const file of Object.values(bin)) {
  const target = path.join(root, file);
  if (fs.existsSync(target)) fs.chmodSync(target, 0o755);
}
