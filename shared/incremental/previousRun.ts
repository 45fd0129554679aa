/**
 * The previous run an incremental run compares with, found in the outbox: the run the request names
 * (`previousMatchId`, a run of the same input name: its folder is `<name key>/<id>/`), else the run
 * `<name key>/latest.json` names. Its `summary.json` says what it matched (job type, release or version) and
 * where its prepared file and results are. Anything that keeps a run from being a baseline is a reason, not an
 * error: the run is then a full match, and its summary says why.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { PreparedInput } from '../formats/prepared.js';
import { readJsonBlob } from '../outbox.js';
import {
  type LatestRunDocument,
  latestBlobName,
  outboxBlobNames,
  runFolderFor,
} from '../workflow/outboxNames.js';
import type { SummaryDocument } from '../workflow/summary.js';
import type { MatchInput } from '../workflow/types.js';

export interface PreviousRun {
  /** Its instance id (or run folder, for a run named only by `latest.json`). */
  matchId: string;
  preparedFile: PreparedInput['prepared'];
  /** Its results.parquet in the outbox: all of its rows' results, carried over ones included. */
  resultsBlob: string;
}

export type PreviousRunLookup = { found: PreviousRun } | { refused: string; matchId: string | null };

/** The previous run of `request`'s input name, or why there is none to compare with. */
export async function findPreviousRun(
  outbox: ContainerClient,
  request: MatchInput,
  instanceId: string,
): Promise<PreviousRunLookup> {
  const { nameKey } = request.outbox;
  let run: string;
  let matchId: string;
  if (request.previousMatchId) {
    matchId = request.previousMatchId;
    run = runFolderFor(matchId);
  } else {
    const latest = await readJsonBlob<Partial<LatestRunDocument>>(outbox, latestBlobName(nameKey));
    if (!latest || typeof latest.run !== 'string') {
      return { refused: 'this input name has no earlier run to compare with', matchId: null };
    }
    run = latest.run;
    matchId = run;
    if (latest.outcome !== 'succeeded') {
      return { refused: `the latest run of this input name (${run}) ended ${latest.outcome}`, matchId };
    }
  }
  if (run === request.outbox.run || matchId === instanceId) {
    return { refused: 'the run named as previous is this run', matchId };
  }
  const location = { nameKey, run };
  const summary = await readJsonBlob<Partial<SummaryDocument>>(outbox, outboxBlobNames(location).summary);
  const refusal = summary
    ? baselineProblem(summary, request)
    : `no completed match ${matchId} of this input name`;
  if (refusal || !summary?.preparedFile) return { refused: refusal ?? 'no prepared file', matchId };
  return {
    found: {
      matchId: summary.instanceId ?? matchId,
      preparedFile: summary.preparedFile,
      resultsBlob: outboxBlobNames(location).results,
    },
  };
}

/** Why a previous run's results cannot stand in for this run's, or null when they can. */
export function baselineProblem(summary: Partial<SummaryDocument>, request: MatchInput): string | null {
  const id = summary.instanceId ?? 'the previous run';
  if (summary.kind !== 'gem-flow.match-summary' || summary.outcome !== 'succeeded') {
    return `${id} did not succeed`;
  }
  const input = summary.input;
  if (input?.jobType !== request.jobType) {
    return `${id} was a ${input?.jobType ?? 'unknown'} job, this is ${request.jobType}`;
  }
  const release = (value: string | null | undefined) => value ?? null;
  if (release(input.overtureRelease) !== release(request.overtureRelease)) {
    return `${id} matched Overture release ${input.overtureRelease ?? 'none'}, this run ${request.overtureRelease ?? 'none'}: every road is matched again`;
  }
  if (release(input.orbisVersion) !== release(request.orbisVersion)) {
    return `${id} matched Orbis version ${input.orbisVersion ?? 'none'}, this run ${request.orbisVersion ?? 'none'}: every road is matched again`;
  }
  if (!summary.preparedFile) {
    return `${id}'s summary names no prepared file (it ran before gem-flow recorded one)`;
  }
  return null;
}
