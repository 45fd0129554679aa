/**
 * The activities of the `matchFile` workflow, one module each (prepareInput.ts, validateInput.ts, stageInput.ts, submitJob.ts,
 * pollJob.ts, deliverResults.ts, notify.ts, recordFailure.ts), bound here to their dependencies. Each is
 * idempotent (events arrive at least once, activities may run twice, hosts crash) and each obtains its own
 * secrets: the API key, tokens and the unwrapped service principal never leave the activities, so they never
 * reach orchestration history. Adding an activity: a method on `MatchActivities` (shared/workflow/types.ts),
 * its module here taking the services it needs, one line below, and its name in functions/matchFile.ts.
 */
import { getServices, type Services } from '../services.js';
import type { MatchActivities } from '../workflow/types.js';
import { deliverResults } from './deliverResults.js';
import { notify } from './notify.js';
import { partitionInput } from './partitionInput.js';
import { planIncremental } from './planIncremental.js';
import { pollJob } from './pollJob.js';
import { prepareInput } from './prepareInput.js';
import { recordFailure } from './recordFailure.js';
import { stageInput } from './stageInput.js';
import { submitJob, submitPartJob } from './submitJob.js';
import { validateInput } from './validateInput.js';

let defaultActivities: MatchActivities | undefined;

/** The activities wired to the process-wide services. */
export function matchActivities(): MatchActivities {
  defaultActivities ??= createMatchActivities(getServices());
  return defaultActivities;
}

/** The activities over the given services (tests pass fakes). */
export function createMatchActivities(services: Services): MatchActivities {
  return {
    prepareInput: (input) => prepareInput(services, input),
    validateInput: (input) => validateInput(services, input),
    stageInput: (input) => stageInput(services, input),
    submitJob: (input) => submitJob(services, input),
    partitionInput: (input) => partitionInput(services, input),
    submitPartJob: (input) => submitPartJob(services, input),
    pollJob: (input) => pollJob(services, input),
    deliverResults: (input) => deliverResults(services, input),
    notify: (input) => notify(services, input),
    recordFailure: (input) => recordFailure(services, input),
    planIncremental: (input) => planIncremental(services, input),
  };
}
