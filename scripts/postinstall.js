// Runs after `npm install` / `npm ci`: one line when Azure Functions Core Tools is missing. It is an optional
// dependency whose own install step downloads the `func` binary; where that download is impossible (offline, a
// registry-only network) npm drops the package without a word. Nothing here needs it (npm start and npm test
// use the project's own local host), so this only says so, and never fails the install.
const fs = require('node:fs');
const path = require('node:path');

/** The line to print when Core Tools' `func` binary is not installed under `root`, else undefined. */
function coreToolsNote(root) {
  const dir = path.join(root, 'node_modules', 'azure-functions-core-tools');
  const binary = ['func', 'func.exe'].some((name) => fs.existsSync(path.join(dir, 'bin', name)));
  if (binary) return undefined;
  const why = fs.existsSync(dir)
    ? 'its func binary was not downloaded'
    : 'its install step could not run here';
  return (
    `gem-flow: Azure Functions Core Tools (optional) is not installed (${why}); ` +
    'npm start and npm test do not need it, only `func start` does.'
  );
}

module.exports = { coreToolsNote };

if (require.main === module) {
  try {
    const note = coreToolsNote(path.resolve(__dirname, '..'));
    if (note) console.log(note);
  } catch {
    // A note must never break an install.
  }
}
