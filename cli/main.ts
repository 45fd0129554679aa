#!/usr/bin/env node
/**
 * The `gem-flow` executable (package.json `bin`). `npx gem-flow …` in the repository runs it on the project's
 * Node 22 (npx puts node_modules/.bin, which holds the node@22 binary, first on PATH, so the shebang finds it).
 * It checks the Node version before anything else loads, wires the real streams, tools and Ctrl-C, and exits
 * with the command's code.
 */
import { runCommand } from './commandRunner.js';

const MIN_NODE_MAJOR = 22;

async function main(): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_NODE_MAJOR) {
    process.stderr.write(
      `error: gem-flow needs Node ${MIN_NODE_MAJOR} or later (this is ${process.version}).\n` +
        'what to do: run it as `npx gem-flow …` inside the repository, which uses the project Node 22.\n',
    );
    return 3;
  }
  const interrupted = new AbortController();
  process.once('SIGINT', () => {
    // A followed match stops being followed and says how to pick it up again; any other command, or a second
    // Ctrl-C, leaves within two seconds.
    interrupted.abort();
    process.once('SIGINT', () => process.exit(130));
    setTimeout(() => process.exit(130), 2000).unref();
  });
  const { runCli } = await import('./program.js');
  return runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    run: runCommand,
    signal: interrupted.signal,
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
