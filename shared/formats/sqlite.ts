/**
 * The one door to Node's built-in SQLite (`node:sqlite`), which GeoPackage reading and writing use instead of
 * a native npm module (better-sqlite3 downloads its binary at install time). The module exists from Node
 * 22.5 but only behind `--experimental-sqlite` until 22.13 (and 23.4), where it was unflagged together with
 * the statement iterator the reader streams rows with; on an older runtime the import would fail with
 * ERR_UNKNOWN_BUILTIN_MODULE, so the version is checked first and the user is told what is needed.
 * Loading it prints Node's one-time "SQLite is an experimental feature" warning.
 */
import { FormatError } from './errors.js';

type NodeSqlite = typeof import('node:sqlite');

/** The first Node releases where `node:sqlite` (with `StatementSync.iterate`) needs no flag. */
export const SQLITE_MIN_NODE = { 22: 13, 23: 4 } as const;

/** Whether `node:sqlite` is available without a flag on this Node version (`process.versions.node`). */
export function sqliteAvailable(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major >= 24) return true;
  const needed = SQLITE_MIN_NODE[major as keyof typeof SQLITE_MIN_NODE];
  return needed !== undefined && minor >= needed;
}

let loading: Promise<NodeSqlite> | undefined;

export function loadSqlite(version = process.versions.node): Promise<NodeSqlite> {
  if (!sqliteAvailable(version)) {
    return Promise.reject(
      new FormatError(
        'runtime-unsupported',
        `GeoPackage files need Node.js 22.13 or later (its built-in node:sqlite); this runtime is Node.js ${version}.`,
        {
          remedy:
            'Run the app on Node.js 22.13+ (Flex Consumption: Node 22, current patch), or send another format.',
        },
      ),
    );
  }
  loading ??= import('node:sqlite').catch((cause: unknown) => {
    loading = undefined;
    throw new FormatError('runtime-unsupported', `Node.js ${version} could not load node:sqlite.`, {
      cause,
      remedy: 'Run the app on Node.js 22.13 or later, without --no-experimental-sqlite.',
    });
  });
  return loading;
}
