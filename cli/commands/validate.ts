/**
 * `gem-flow validate FILE [--job-type T] [format options]`: the app's validation of an input, in any road format
 * it reads, run offline on a local file, with its problems as a table (a source feature's index as the row). Exits 1 when the file would be refused, so it can gate an upload in a script.
 */
import { resolve } from 'node:path';
import { formatOptionsRegistryProblems, formatOptionsSchema } from '../../shared/api/schemas.js';
import type { FormatOptions } from '../../shared/formats/prepared.js';
import type { JobType } from '../../shared/jobTypes.js';
import { UPLOAD_OPTIONS, type UploadFormatOptions } from '../../shared/workflow/uploadOptions.js';
import type { CommandContext } from '../context.js';
import { EXIT, type ExitCode, usageError } from '../errors.js';
import { printProblems } from '../results.js';
import { validateLocalFile } from '../validate.js';

/**
 * The format options given as flags, checked with the start request's own schema (and the EPSG registry), so
 * a value the app would refuse is a usage error here too.
 */
async function formatOptionsOf(options: ValidateCommandOptions): Promise<FormatOptions | undefined> {
  const given: UploadFormatOptions = {};
  for (const { field, format } of UPLOAD_OPTIONS) {
    const value = options[field as keyof UploadFormatOptions];
    if (format && value) given[field as keyof UploadFormatOptions] = value;
  }
  if (Object.keys(given).length === 0) return undefined;
  const parsed = formatOptionsSchema.safeParse(given);
  const problems = parsed.success
    ? await formatOptionsRegistryProblems(parsed.data, 'option')
    : parsed.error.issues.map((issue) => ({
        field: `option ${issue.path.join('.')}`,
        reason: issue.message,
      }));
  if (problems.length > 0) {
    throw usageError(
      `The app would refuse these options: ${problems.map((p) => `${p.field} ${p.reason}`).join('; ')}.`,
      'Fix the option and run again.',
    );
  }
  return parsed.data;
}

export interface ValidateCommandOptions extends UploadFormatOptions {
  jobType?: JobType;
  /** Problems shown in the table (all are counted). */
  max?: number;
}

export async function validateCommand(
  file: string,
  options: ValidateCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const format = await formatOptionsOf(options);
  const report = await validateLocalFile(resolve(context.io.cwd, file), {
    ...(options.jobType ? { jobType: options.jobType } : {}),
    ...(format ? { format } : {}),
  });
  const { output } = context;
  output.document({ file, ...report });
  const total = Object.values(report.problemCounts).reduce((sum, n) => sum + n, 0);
  const read = report.prepared;
  const what = read?.format
    ? `${read.featureCount} ${read.format} feature(s)${read.crs ? ` in ${read.crs}` : ''}`
    : `${report.rowCount} rows`;
  if (report.valid) {
    const rows = read ? ` → ${read.gemRowCount} GEM rows` : '';
    output.line(`${file} is a valid ${report.jobType} input: ${what}${rows}.`);
  } else {
    output.line(`${file} would be refused: ${total} problem(s) in ${what}.`);
    printProblems(output, report.problems.slice(0, options.max ?? 20), total);
  }
  for (const note of report.notes) output.line(`note: ${note}`);
  return report.valid ? EXIT.ok : EXIT.failed;
}
