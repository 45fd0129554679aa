/**
 * Where and how the CLI prints. Three modes, picked once per run: `tty` (stdout is a terminal: live progress bar,
 * boxed tables), `plain` (no terminal: one line per event, tables as tab-separated lines with a header row) and
 * `json` (`--json`: one JSON document per command, or JSON lines for a followed match). Errors go to stderr as
 * "error: …" and "what to do: …" lines, and in `json` mode also as the last document on stdout, so a script
 * reading stdout always sees why it failed.
 */
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import type { CliError } from './errors.js';
import {
  JsonLinesProgressRenderer,
  PlainProgressRenderer,
  type ProgressRenderer,
  TtyProgressRenderer,
  type Writable,
} from './progressRender.js';

export type OutputMode = 'tty' | 'plain' | 'json';

export function outputModeFor(json: boolean | undefined, stdout: Writable): OutputMode {
  if (json) return 'json';
  return stdout.isTTY ? 'tty' : 'plain';
}

export interface Column {
  header: string;
  /** Right-aligned (numbers). */
  right?: boolean;
}

export class Output {
  constructor(
    readonly mode: OutputMode,
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {}

  get json(): boolean {
    return this.mode === 'json';
  }

  /** A line for people (tty and plain); nothing in json mode. */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** A JSON document (json mode only; one line, so JSON lines stay one per line). */
  document(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  table(
    columns: readonly Column[],
    rows: readonly (readonly (string | number | null | undefined)[])[],
  ): void {
    if (this.json) return;
    const cells = rows.map((row) =>
      row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))),
    );
    if (this.mode === 'plain') {
      this.stdout.write(`${columns.map((c) => c.header).join('\t')}\n`);
      for (const row of cells) this.stdout.write(`${row.map((c) => c.replace(/[\t\n]/g, ' ')).join('\t')}\n`);
      return;
    }
    const table = new Table({
      head: columns.map((c) => c.header),
      colAligns: columns.map((c) => (c.right ? 'right' : 'left')),
      style: { head: [], border: [], compact: true },
      wordWrap: true,
    });
    table.push(...cells);
    this.stdout.write(`${table.toString()}\n`);
  }

  progress(): ProgressRenderer {
    if (this.mode === 'tty') return new TtyProgressRenderer(this.stdout);
    if (this.mode === 'json') return new JsonLinesProgressRenderer(this.stdout);
    return new PlainProgressRenderer(this.stdout);
  }

  /**
   * A byte bar for an upload, on a terminal only (elsewhere the upload's line says it is done): a 2 GiB file
   * takes a while to send.
   */
  transferBar(label: string, totalBytes: number): { update(bytes: number): void; stop(): void } {
    if (this.mode !== 'tty') return { update() {}, stop() {} };
    const bar = new SingleBar({
      stream: this.stdout as NodeJS.WriteStream,
      format: `${label} {bar} {percentage}% | {value}/{total} bytes`,
      clearOnComplete: true,
      barsize: 30,
      hideCursor: true,
      fps: 5,
    });
    bar.start(totalBytes, 0);
    return { update: (bytes) => bar.update(bytes), stop: () => bar.stop() };
  }

  error(error: CliError): void {
    this.stderr.write(`error: ${error.summary}\n`);
    if (error.remedy) this.stderr.write(`what to do: ${error.remedy}\n`);
    this.document({
      event: 'error',
      error: {
        code: error.code,
        message: error.summary,
        remedy: error.remedy ?? null,
        exitCode: error.exitCode,
      },
    });
  }

  /** A warning or hint on stderr, which never mixes into machine-readable stdout. */
  warn(text: string): void {
    this.stderr.write(`${text}\n`);
  }
}
