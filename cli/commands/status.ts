/**
 * `gem-flow status [ID] [--watch]`: one match's status (the newest match when no id is given). With `--watch` it
 * is followed like `match --wait`, to its summary or failure, and `--download` saves its outputs.
 */
import type { MatchStatus } from '../appClient.js';
import { type CommandContext, outputRoot } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../errors.js';
import { followMatch, matchNotFound } from '../follow.js';
import type { Output } from '../output.js';
import { createProgressTracker, formatDuration } from '../progress.js';
import { collectResult, printResult } from '../results.js';
import type { Target } from '../target.js';

export interface StatusCommandOptions {
  watch?: boolean;
  download?: boolean;
  output?: string;
  interval?: number;
}

async function newestMatchId(target: Target): Promise<string> {
  const page = await target.app.listMatches({ top: 1 });
  const newest = page.matches[0];
  if (!newest) {
    throw new CliError(
      'NoMatches',
      EXIT.failed,
      `${target.description} has no match created since ${page.window.createdFrom}.`,
      {
        remedy: 'Start one with `gem-flow match FILE`.',
      },
    );
  }
  return newest.id;
}

export async function statusCommand(
  id: string | undefined,
  options: StatusCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const target = await context.target();
  const matchId = id ?? (await newestMatchId(target));
  if (!options.watch) {
    const status = await target.app.getMatch(matchId);
    if (!status) throw matchNotFound(matchId);
    printStatus(context.output, status, target);
    return EXIT.ok;
  }
  const final = await followMatch({
    app: target.app,
    id: matchId,
    output: context.output,
    clock: target.clock,
    intervalMs: (options.interval ?? 2) * 1000,
    ...(context.io.signal ? { signal: context.io.signal } : {}),
  });
  const result = await collectResult(final, {
    outbox: target.outbox,
    storage: target,
    download: options.download === true,
    outputRoot: outputRoot(context, options.output),
  });
  printResult(context.output, result);
  return result.exitCode;
}

export function printStatus(output: Output, status: MatchStatus, target: Pick<Target, 'clock'>): void {
  const view = createProgressTracker({ clock: target.clock }).update(status);
  if (output.json) {
    output.document({ ...status, progress: view });
    return;
  }
  const outputs = Object.values(status.outputs)
    .filter((ref) => ref !== null)
    .map((ref) => ref.blob);
  const rows: [string, string][] = [
    ['match', status.id],
    ['runtime status', status.runtimeStatus],
    ['phase', view.step ? `${view.phase} (${view.step}/${view.steps})` : view.phase],
    ['outcome', status.outcome ?? '–'],
    ['GEM job', status.jobId === null ? '–' : `${status.jobId} (${status.gemStatus ?? '–'})`],
    ['polls', String(status.polls)],
    ...(view.parts ? [['parts', `${view.parts.done}/${view.parts.total}`] as [string, string]] : []),
    [
      'estimated completion',
      status.estimatedCompletion
        ? `${status.estimatedCompletion} (ETA ${formatDuration(view.etaSeconds)})`
        : '–',
    ],
    ['created', status.createdTime],
    ['last updated', status.lastUpdatedTime],
    ['outputs', outputs.length > 0 ? outputs.join('\n') : '–'],
    ...(status.error ? [['error', status.error.message] as [string, string]] : []),
    ...(status.notification
      ? [
          [
            'callback',
            status.notification.delivered ? 'delivered' : `not delivered: ${status.notification.error ?? ''}`,
          ] as [string, string],
        ]
      : []),
  ];
  output.table([{ header: 'field' }, { header: 'value' }], rows);
}
