/**
 * The command line's errors and exit codes. Every failure the CLI reports is a `CliError`: a message saying what
 * happened, a remedy saying what to do, and the exit code scripts can branch on. Messages never carry a key or a
 * connection string: they name where a credential came from, never its value.
 */
import { GemFlowError } from '../shared/errors.js';

/** Documented in the README ("Command line", exit codes). */
export const EXIT = {
  ok: 0,
  /** The match failed, was invalid, cancelled or timed out; a file failed validation; no such match or blob. */
  failed: 1,
  /** Bad arguments or options (nothing was sent). */
  usage: 2,
  /** The app or its storage could not be reached, refused the credentials, or answered with a server error. */
  connection: 3,
  /** Interrupted (Ctrl-C) while following a match; the match itself goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends GemFlowError {
  readonly code: string;
  readonly exitCode: ExitCode;
  /** The message without the remedy appended (GemFlowError joins them in `message`). */
  readonly summary: string;

  constructor(
    code: string,
    exitCode: ExitCode,
    message: string,
    options: { remedy?: string; cause?: unknown } = {},
  ) {
    super(message, options);
    this.code = code;
    this.exitCode = exitCode;
    this.summary = message;
  }
}

export const usageError = (message: string, remedy?: string) =>
  new CliError('Usage', EXIT.usage, message, remedy ? { remedy } : {});

/** What any thrown value becomes before it is printed: a CliError, with a message that is never empty. */
export function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const text = error instanceof Error ? error.message || error.name : String(error);
  return new CliError('Unexpected', EXIT.failed, text || 'failed without a message', { cause: error });
}
