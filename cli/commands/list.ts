/**
 * `gem-flow list [--status S] [--top N] [--all]`: matches, newest first, a page at a time as the API pages them
 * (`continuationToken`); `--all` follows the tokens to the end of the API's window.
 */
import type { MatchStatus } from '../appClient.js';
import type { CommandContext } from '../context.js';
import { EXIT, type ExitCode } from '../errors.js';
import { createProgressTracker, formatDuration } from '../progress.js';

export interface ListCommandOptions {
  status?: string;
  top?: number;
  all?: boolean;
}

export async function listCommand(options: ListCommandOptions, context: CommandContext): Promise<ExitCode> {
  const target = await context.target();
  const matches: MatchStatus[] = [];
  let continuationToken: string | undefined;
  let window: { createdFrom: string; createdTo: string | null } | undefined;
  do {
    const page = await target.app.listMatches({
      ...(options.status ? { status: options.status } : {}),
      ...(options.top ? { top: options.top } : {}),
      ...(continuationToken ? { continuationToken } : {}),
    });
    matches.push(...page.matches);
    window ??= page.window;
    continuationToken = page.continuationToken ?? undefined;
  } while (options.all && continuationToken);

  const { output } = context;
  output.document({ matches, count: matches.length, continuationToken: continuationToken ?? null, window });
  if (output.json) return EXIT.ok;
  if (matches.length === 0) {
    output.line(`No matches created since ${window?.createdFrom ?? 'the last 7 days'}.`);
    return EXIT.ok;
  }
  output.table(
    [
      { header: 'match' },
      { header: 'status' },
      { header: 'phase' },
      { header: 'GEM' },
      { header: 'job', right: true },
      { header: 'polls', right: true },
      { header: 'ETA', right: true },
      { header: 'created' },
    ],
    matches.map((match) => {
      const view = createProgressTracker({ clock: target.clock }).update(match);
      return [
        match.id,
        match.runtimeStatus,
        match.phase ?? '–',
        match.gemStatus ?? '–',
        match.jobId,
        match.polls,
        view.terminal ? '' : formatDuration(view.etaSeconds),
        match.createdTime,
      ];
    }),
  );
  if (continuationToken) output.line('More matches: gem-flow list --all');
  return EXIT.ok;
}
