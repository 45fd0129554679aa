/**
 * The local stack's JSON state files (the host's timer schedule status and Event Grid receipts, the stand-ins'
 * state): read once at start (a missing file is the fallback), then written through a temp file and a rename,
 * one write after another, so a crash never leaves half a document and the last value saved is the one on disk.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface JsonState<T> {
  /** The state; change it in place, then `save()`. */
  readonly value: T;
  save(): Promise<void>;
  /** Resolves once every save so far is on disk. */
  flushed(): Promise<void>;
}

export interface JsonFileWriter {
  /** Queues `value` (serialised now) to replace the file; resolves once it is on disk. */
  write(value: unknown): Promise<void>;
  /** Resolves once every write so far is on disk. */
  flushed(): Promise<void>;
}

/**
 * Writes one JSON document after another to `file`, each atomically. `mode` applies to the file (e.g. 0o600
 * for a document holding local stand-in keys). A failed write rejects its own promise, not later ones.
 */
export function jsonFileWriter(file: string, options: { mode?: number } = {}): JsonFileWriter {
  let writes = Promise.resolve();
  return {
    write(value) {
      const text = JSON.stringify(value, null, 2);
      const next = writes.then(async () => {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        await writeFile(`${file}.tmp`, text, options.mode === undefined ? {} : { mode: options.mode });
        await rename(`${file}.tmp`, file);
      });
      writes = next.catch(() => undefined);
      return next;
    },
    flushed: () => writes,
  };
}

/** Without a file the state lives in memory only. `what` names it in the error for an unreadable file. */
export async function loadJsonState<T>(
  file: string | undefined,
  fallback: T,
  what: string,
): Promise<JsonState<T>> {
  let value = fallback;
  if (file) {
    try {
      value = JSON.parse(await readFile(file, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(
          `Cannot read ${what} from ${file}: ${(error as Error).message}. Delete the file to reset it.`,
        );
      }
    }
  }
  const writer = file ? jsonFileWriter(file) : undefined;
  return {
    value,
    save: () => writer?.write(value) ?? Promise.resolve(),
    flushed: () => writer?.flushed() ?? Promise.resolve(),
  };
}
