/**
 * Captured streams and an in-process CLI run for the command-line tests: `runCli` with streams that record what
 * was written (a TTY or not), no Azure tools, and a fetch that fails the test if a command sends anything it
 * should not.
 */
import { runCli } from '../../../cli/program.js';
import type { Writable } from '../../../cli/progressRender.js';

export interface Captured {
  stream: Writable;
  text(): string;
}

export function captured(isTTY = false, columns = 200): Captured {
  let text = '';
  const stream = {
    isTTY,
    columns,
    write(chunk: string | Uint8Array) {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    },
  };
  return { stream: stream as unknown as Writable, text: () => text };
}

/** Removes terminal control sequences, leaving what a person sees (and the line breaks). */
export function visible(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what is being removed
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]/g, '');
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  fetched: string[];
}

export async function cli(
  args: string[],
  options: { tty?: boolean; env?: NodeJS.ProcessEnv; cwd?: string; fetch?: typeof fetch } = {},
): Promise<CliRun> {
  const stdout = captured(options.tty ?? false);
  const stderr = captured(false);
  const fetched: string[] = [];
  const code = await runCli(args, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    run: async (file) => {
      throw new Error(`no ${file} in unit tests`);
    },
    fetch:
      options.fetch ??
      (async (url) => {
        fetched.push(String(url));
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
        });
      }),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text(), fetched };
}
