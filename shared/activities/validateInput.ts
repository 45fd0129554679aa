/**
 * The `validateInput` activity: reads the pinned inbox file by ranges and checks it against GEM's input rules
 * for the job type, before anything is staged or submitted. An invalid file gets a row-level report in the
 * run's outbox folder and `latest.json` points at it; a file already in PDG storage is left to GEM.
 */
import { failedValidationSummary } from '../formats/prepare.js';
import { blobAsyncBuffer } from '../parquet/asyncBuffer.js';
import { validateLaneLevelCsvHeader, validateLaneLevelInput } from '../parquet/laneLevel.js';
import type { ValidationReport } from '../parquet/report.js';
import { validateRoadMatchingInput } from '../parquet/roadMatching.js';
import type { Services } from '../services.js';
import { outboxBlobNames } from '../workflow/outboxNames.js';
import type { PreparedMatchInput, ValidateInputResult } from '../workflow/types.js';
import { pinnedInputFile, recordLatest, writeRunDocument } from './matchStorage.js';

/** A lane-level CSV is checked by its header only; this much of the file holds it. */
const CSV_HEADER_BYTES = 64 * 1024;

export async function validateInput(
  services: Pick<Services, 'appBlobs' | 'outbox' | 'settings'>,
  input: PreparedMatchInput,
): Promise<ValidateInputResult> {
  if (input.source.kind === 'pdg') {
    return {
      valid: true,
      rowCount: 0,
      problemCount: 0,
      summary: 'The file is already in PDG storage; GEM checks it when the job starts.',
    };
  }
  const report = await validationReport(services, input, input.source.blobName);
  if (report.valid) {
    return {
      valid: true,
      rowCount: report.rowCount,
      problemCount: 0,
      summary: 'The file passed validation.',
    };
  }
  const problemCount = Object.values(report.problemCounts).reduce((sum, n) => sum + n, 0);
  const summary = failedValidationSummary(report.problemCounts);
  const reportBlob = await writeRunDocument(services, outboxBlobNames(input.outbox).validationReport, {
    kind: 'gem-flow.validation-report',
    source: input.source,
    summary,
    ...report,
  });
  await recordLatest(services, input, 'invalid-input', { validationReport: reportBlob });
  return { valid: false, rowCount: report.rowCount, reportBlob, problemCount, summary };
}

/** The rules of the job type, over the pinned inbox blob read by ranges. */
async function validationReport(
  services: Pick<Services, 'appBlobs' | 'settings'>,
  input: PreparedMatchInput,
  blobName: string,
): Promise<ValidationReport> {
  const { blob, etag, size } = await pinnedInputFile(services, input);
  const file = await blobAsyncBuffer(blob, { etag, size });
  const limits = services.settings.validation;
  if (input.jobType === 'ROAD_MATCHING') return validateRoadMatchingInput(file, { limits });
  if (blobName.toLowerCase().endsWith('.csv')) {
    const head = await file.slice(0, Math.min(size, CSV_HEADER_BYTES));
    return validateLaneLevelCsvHeader(new Uint8Array(head));
  }
  return validateLaneLevelInput(file, { limits });
}
