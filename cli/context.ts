/**
 * What every command gets: the process's streams, environment and working folder (injected, so tests run
 * commands in-process against fakes or a real stack), the output in its mode, and the target, resolved on
 * first use so `validate` and `--help` never need a stack or a sign-in.
 */
import { resolve } from 'node:path';
import type { CommandRunner } from './commandRunner.js';
import type { Output } from './output.js';
import type { Writable } from './progressRender.js';
import { resolveTarget, type Target, type TargetOptions } from './target.js';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
  run: CommandRunner;
  fetch?: typeof fetch;
  /** Aborted on Ctrl-C: a followed match stops being followed (the match goes on). */
  signal?: AbortSignal;
}

export interface GlobalOptions extends TargetOptions {
  json?: boolean;
}

export interface CommandContext {
  io: CliIo;
  output: Output;
  target(): Promise<Target>;
}

/** Where outputs are saved unless `--output` says otherwise: `./gem-flow-output`. */
export const DEFAULT_OUTPUT_DIR = 'gem-flow-output';

export function outputRoot(context: CommandContext, option: string | undefined): string {
  return resolve(context.io.cwd, option ?? DEFAULT_OUTPUT_DIR);
}

export function createContext(io: CliIo, output: Output, options: GlobalOptions): CommandContext {
  let target: Promise<Target> | undefined;
  return {
    io,
    output,
    target: () => {
      target ??= resolveTarget(options, {
        env: io.env,
        cwd: io.cwd,
        run: io.run,
        ...(io.fetch ? { fetch: io.fetch } : {}),
      });
      return target;
    },
  };
}
