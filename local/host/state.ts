/**
 * The local host's JSON state files (timer schedule status, Event Grid receipts): read once at start (a missing
 * file is the fallback), then written through a temp file and a rename, one write after another, so a crash
 * never leaves half a document and the last value saved is the one on disk.
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
  let writes = Promise.resolve();
  return {
    value,
    save() {
      if (!file) return Promise.resolve();
      writes = writes.then(async () => {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, JSON.stringify(value, null, 2));
        await rename(`${file}.tmp`, file);
      });
      return writes;
    },
    flushed: () => writes,
  };
}
