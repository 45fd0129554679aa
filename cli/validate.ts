/**
 * `gem-flow validate FILE`: the validation the app runs on an upload, run here on a local file before it is
 * uploaded. `validateLocalFile` is the one place the CLI calls the app's core for it, and it chooses the
 * validator the way the validateInput activity does (shared/activities/match.ts): ROAD_MATCHING → the Parquet
 * road rules; LANE_LEVEL_MATCHING → the CSV header check for a `.csv`, else the lane-level Parquet rules. When
 * the app reads more formats, only this function changes. The file is read by ranges through a file handle, so
 * a large file is never held whole.
 */
import { open } from 'node:fs/promises';
import type { JobType } from '../shared/jobTypes.js';
import type { AsyncBuffer } from '../shared/parquet/asyncBuffer.js';
import { validateLaneLevelCsvHeader, validateLaneLevelInput } from '../shared/parquet/laneLevel.js';
import type { ValidationReport } from '../shared/parquet/report.js';
import { validateRoadMatchingInput } from '../shared/parquet/roadMatching.js';
import { CliError, EXIT } from './errors.js';

export interface ValidateLocalOptions {
  jobType?: JobType;
}

/** What the lane-level CSV check reads of the file's head, as the activity does. */
const CSV_HEAD_BYTES = 64 * 1024;

export async function validateLocalFile(
  path: string,
  options: ValidateLocalOptions = {},
): Promise<ValidationReport> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new CliError(
      'FileUnreadable',
      EXIT.usage,
      `Cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}.`,
      {
        cause,
      },
    );
  }
  try {
    const size = (await handle.stat()).size;
    const file: AsyncBuffer = {
      byteLength: size,
      async slice(start: number, end = size) {
        const length = Math.max(0, Math.min(end, size) - start);
        const bytes = new Uint8Array(length);
        let read = 0;
        while (read < length) {
          const { bytesRead } = await handle.read(bytes, read, length - read, start + read);
          if (bytesRead === 0) break;
          read += bytesRead;
        }
        return bytes.buffer.slice(0, read);
      },
    };
    const jobType = options.jobType ?? 'ROAD_MATCHING';
    if (jobType === 'ROAD_MATCHING') return await validateRoadMatchingInput(file);
    if (path.toLowerCase().endsWith('.csv')) {
      return validateLaneLevelCsvHeader(new Uint8Array(await file.slice(0, Math.min(size, CSV_HEAD_BYTES))));
    }
    return await validateLaneLevelInput(file);
  } finally {
    await handle.close();
  }
}
