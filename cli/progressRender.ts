/**
 * Three ways to show a followed match. On a terminal: a live bar (cli-progress) with the phase (step n of 6),
 * GEM's status, polls, parts, elapsed time and ETA, and one line above it each time the phase changes. Without a
 * terminal: one plain line per change. With `--json`: one JSON object per change (JSON lines). The bar is
 * refreshed every second between polls, so elapsed time and the ETA keep moving.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import { formatDuration, type ProgressView } from './progress.js';

export interface ProgressRenderer {
  update(view: ProgressView): void;
  /** Refresh the time fields from the tracker between polls (TTY only). */
  startTicking(current: () => ProgressView | undefined): void;
  /** A line of its own (above the bar on a terminal). */
  note(line: string): void;
  stop(): void;
}

export type Writable = Pick<NodeJS.WriteStream, 'write'> &
  Partial<Pick<NodeJS.WriteStream, 'isTTY' | 'columns'>>;

function phaseLabel(view: ProgressView): string {
  return view.step ? `${view.phase} (${view.step}/${view.steps})` : view.phase;
}

/** The fields a bar or a plain line shows, in order. */
export function describeView(view: ProgressView): string[] {
  return [
    phaseLabel(view),
    `GEM ${view.gemStatus ?? '–'}${view.jobId !== null ? ` (job ${view.jobId})` : ''}`,
    `polls ${view.polls}`,
    ...(view.parts ? [`parts ${view.parts.done}/${view.parts.total}`] : []),
    `elapsed ${formatDuration(view.elapsedSeconds)}`,
    `ETA ${formatDuration(view.etaSeconds)}`,
  ];
}

/** What counts as a change worth a plain or JSON line: not the clock, which moves every second. */
function changeKey(view: ProgressView): string {
  return JSON.stringify([
    view.runtimeStatus,
    view.phase,
    view.gemStatus,
    view.jobId,
    view.polls,
    view.parts,
    view.estimatedCompletion,
  ]);
}

export class TtyProgressRenderer implements ProgressRenderer {
  private readonly multi: MultiBar;
  private bar: SingleBar | undefined;
  private lastPhase: string | undefined;
  private phaseSince = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    stream: Writable,
    private readonly realNow: () => number = Date.now,
  ) {
    this.multi = new MultiBar({
      stream: stream as NodeJS.WriteStream,
      format: '{bar} {percentage}% | {details}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
      fps: 5,
    });
  }

  update(view: ProgressView): void {
    if (view.phase !== this.lastPhase) {
      if (this.lastPhase !== undefined) {
        const took = formatDuration((this.realNow() - this.phaseSince) / 1000);
        // The phase a failed match ended in is crossed out, every other one ticked off.
        const failed = view.terminal && view.phase !== 'completed';
        this.note(`${failed ? '✗' : '✓'} ${this.lastPhase} (${took})`);
      }
      this.lastPhase = view.phase;
      this.phaseSince = this.realNow();
    }
    const payload = { details: describeView(view).join(' | ') };
    this.bar ??= this.multi.create(100, 0, payload);
    this.bar.update(view.percent, payload);
    // Drawn now rather than on the bar's next frame: a status arrives once per poll, and each one counts.
    this.multi.update();
  }

  startTicking(current: () => ProgressView | undefined): void {
    this.ticker = setInterval(() => {
      const view = current();
      if (view && this.bar) this.bar.update(view.percent, { details: describeView(view).join(' | ') });
    }, 1000);
    this.ticker.unref();
  }

  note(line: string): void {
    this.multi.log(`${line}\n`);
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    // A redraw first: it prints the notes still buffered (the last phase's line), which stop() would drop.
    if (this.bar) this.multi.update();
    this.multi.stop();
  }
}

/** One line per change of the status (not of the clock), in a format of the subclass's choosing. */
abstract class LineProgressRenderer implements ProgressRenderer {
  private last: string | undefined;
  constructor(private readonly stream: Writable) {}

  protected abstract formatView(view: ProgressView): string;
  protected abstract formatNote(line: string): string;

  update(view: ProgressView): void {
    const key = changeKey(view);
    if (key === this.last) return;
    this.last = key;
    this.stream.write(`${this.formatView(view)}\n`);
  }
  startTicking(): void {}
  note(line: string): void {
    this.stream.write(`${this.formatNote(line)}\n`);
  }
  stop(): void {}
}

export class PlainProgressRenderer extends LineProgressRenderer {
  protected formatView(view: ProgressView): string {
    return `${view.percent}% | ${describeView(view).join(' | ')}`;
  }
  protected formatNote(line: string): string {
    return line;
  }
}

/** `{"event":"progress", …ProgressView}` per change; notes as `{"event":"note","message":…}`. */
export class JsonLinesProgressRenderer extends LineProgressRenderer {
  protected formatView(view: ProgressView): string {
    return JSON.stringify({ event: 'progress', ...view });
  }
  protected formatNote(line: string): string {
    return JSON.stringify({ event: 'note', message: line });
  }
}
