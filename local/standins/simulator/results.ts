// What a GEM job produces from its input: the start-time checks (validation.ts), then the result rows
// (matching.ts, each road's matches from that road and the job's map version alone) and the statistics,
// which wait for the job's running time because `execution_time_sec` reports it.
import { computeStatistics, laneResultsParquet, matchRoads, roadResultsParquet } from './matching.js';
import type { PublicJob } from './types.js';
import { failureMessage, validateLaneLevelInput, validateRoadMatchingInput } from './validation.js';

export type ComputedResults =
  | {
      ok: true;
      rows: number;
      bytes: Uint8Array;
      statistics: (executionTimeSec: number) => NonNullable<PublicJob['statistics']>;
    }
  | { ok: false; message: string };

/** A job's results from its input, or the message of the first check it fails. */
export async function jobResults(job: PublicJob, bytes: Uint8Array): Promise<ComputedResults> {
  if (job.job_type === 'ROAD_MATCHING') {
    const checked = await validateRoadMatchingInput(bytes);
    if (!checked.ok) return { ok: false, message: failureMessage(checked) };
    const context = { jobType: job.job_type, version: job.overture_release ?? '' };
    const matched = matchRoads(checked.rows, context);
    return {
      ok: true,
      rows: checked.rows.length,
      bytes: roadResultsParquet(matched.rows),
      statistics: (seconds) => computeStatistics(checked.rows, matched.outcomes, seconds),
    };
  }
  const checked = await validateLaneLevelInput(bytes);
  if (!checked.ok) return { ok: false, message: failureMessage(checked) };
  const rows = checked.rows.length;
  return {
    ok: true,
    rows,
    bytes: laneResultsParquet(checked.rows, job.orbis_version ?? ''),
    statistics: () => ({ num_traces_processed: rows }),
  };
}
