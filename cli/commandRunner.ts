/**
 * Runs the Azure tools the CLI borrows values from (`azd env get-values`, `az functionapp keys list`). A seam:
 * tests pass a runner that answers from a table, so the Azure target is tested without the tools installed.
 * Output is captured, never echoed: `az functionapp keys list` prints a key.
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
}

export type CommandRunner = (file: string, args: readonly string[], cwd: string) => Promise<CommandResult>;

/** A command that could not be run, or exited non-zero; `missing` when the tool is not installed. */
export class CommandFailedError extends Error {
  constructor(
    readonly command: string,
    readonly missing: boolean,
    readonly stderr: string,
  ) {
    super(missing ? `${command} is not installed (or not on PATH)` : `${command} failed: ${stderr.trim()}`);
  }
}

export const runCommand: CommandRunner = (file, args, cwd) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { cwd, maxBuffer: 4 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout });
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new CommandFailedError(`${file} ${args.slice(0, 3).join(' ')}`, missing, String(stderr)));
      },
    );
  });
