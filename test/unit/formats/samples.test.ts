// `npm run sample -- formats`: every valid sample prepares without a problem and every broken one is refused
// with at least one finding that says what to change, so the README walk-through's files behave as it says.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSampleFiles } from '../../../local/standins/format-samples/all.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { prepareFile } from '../../../shared/formats/prepare.js';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import { LIMITS, scratch } from './support.js';

const dir = scratch();
const files = formatSampleFiles(sampleRoads({ rows: 8 }));

describe('format samples', () => {
  it.each(files.map((f) => [f.name, f] as const))('%s', async (name, file) => {
    const outcome = await prepareFile(bytesSourceFile(await file.bytes(), name), {
      limits: LIMITS,
      maxIdIndexBytes: 1024 * 1024,
      tempDir: dir,
      outputPath: join(dir, `${name.replaceAll('/', '_')}.parquet`),
    });
    if (file.broken) {
      expect(outcome.report.valid).toBe(false);
      expect(outcome.report.problems[0]).toMatchObject({
        rule: expect.any(String),
        remedy: expect.any(String),
      });
    } else {
      expect(outcome.report.problems).toEqual([]);
      expect(outcome.written?.rows).toBeGreaterThanOrEqual(8);
    }
  });
});
