/**
 * `gem-flow validate FILE [--job-type T]`: the app's validation of an input, run offline on a local file, with
 * its problems as a table. Exits 1 when the file would be refused, so it can gate an upload in a script.
 */
import { resolve } from 'node:path';
import type { JobType } from '../../shared/jobTypes.js';
import type { CommandContext } from '../context.js';
import { EXIT, type ExitCode } from '../errors.js';
import { printProblems } from '../results.js';
import { validateLocalFile } from '../validate.js';

export interface ValidateCommandOptions {
  jobType?: JobType;
  /** Problems shown in the table (all are counted). */
  max?: number;
}

export async function validateCommand(
  file: string,
  options: ValidateCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const report = await validateLocalFile(resolve(context.io.cwd, file), {
    ...(options.jobType ? { jobType: options.jobType } : {}),
  });
  const { output } = context;
  output.document({ file, ...report });
  const total = Object.values(report.problemCounts).reduce((sum, n) => sum + n, 0);
  if (report.valid) {
    output.line(`${file} is a valid ${report.jobType} input: ${report.rowCount} rows.`);
  } else {
    output.line(`${file} would be refused: ${total} problem(s) in ${report.rowCount} rows.`);
    printProblems(output, report.problems.slice(0, options.max ?? 20), total);
  }
  for (const note of report.notes) output.line(`note: ${note}`);
  return report.valid ? EXIT.ok : EXIT.failed;
}
