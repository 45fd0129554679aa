/**
 * Live progress of matches on the page, computed by the same view model the command line draws its bar with
 * (cli/progress.ts: phase step, percent, GEM status, polls, ETA from the app's estimate). The page cannot
 * know a local stack's time scale, so it reads the app's clock as the later of this machine's and the newest
 * `lastUpdatedTime` it has seen: on Azure that is the wall clock; on a stack with compressed time, ETA and
 * elapsed are in the stack's virtual time.
 */
import {
  createProgressTracker,
  formatDuration,
  type ProgressTracker,
  type ProgressView,
} from '../../cli/progress.js';
import type { MatchStatus } from './model/types.js';

let newestAppInstant = 0;

const appClock = {
  now: () => Math.max(Date.now(), newestAppInstant),
  scale: 1,
};

const trackers = new Map<string, ProgressTracker>();

/** Records a status and returns its progress view. */
export function progressOf(status: MatchStatus): ProgressView {
  const updated = Date.parse(status.lastUpdatedTime);
  if (Number.isFinite(updated)) newestAppInstant = Math.max(newestAppInstant, updated);
  let tracker = trackers.get(status.id);
  if (!tracker) {
    tracker = createProgressTracker({ clock: appClock });
    trackers.set(status.id, tracker);
  }
  return tracker.update(status);
}

/** One line: `monitoring · step 4/6 · GEM IN_PROGRESS (job 7) · 12 polls · ETA 3m 05s`. */
export function progressLine(view: ProgressView): string {
  const parts: string[] = [view.phase];
  if (view.step !== null) parts.push(`step ${view.step}/${view.steps}`);
  if (view.gemStatus) parts.push(`GEM ${view.gemStatus}${view.jobId !== null ? ` (job ${view.jobId})` : ''}`);
  if (view.parts) parts.push(`parts ${view.parts.done}/${view.parts.total}`);
  if (view.polls > 0) parts.push(`${view.polls} poll${view.polls === 1 ? '' : 's'}`);
  if (view.etaSeconds !== null) parts.push(`ETA ${formatDuration(view.etaSeconds)}`);
  return parts.join(' · ');
}
