/**
 * One benchmark child process: Node (the benchmark's own binary) on a script, its output collected, killed
 * after a deadline so a stuck child can never hang `npm run bench`. The callers read the last stdout line
 * (their child's JSON figures) and decide what a failure means for them.
 */
import { spawn } from 'node:child_process';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last 4,000 characters of stderr. */
  stderr: string;
  wallMs: number;
  /** The last non-empty line of stdout, where the children print their JSON. */
  lastLine: string | undefined;
}

export function runNodeChild(
  args: string[],
  options: { timeoutMs: number; cwd?: string },
): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    const started = Date.now();
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lastLine = stdout.trim().split('\n').at(-1) || undefined;
      resolve({ code, signal, stdout, stderr, wallMs: Date.now() - started, lastLine });
    });
  });
}
