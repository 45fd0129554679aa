// The matchFile orchestrator stepped by hand with fake activities and a virtual clock: the monitor loop's
// timing, its deadline, and what carries over a continueAsNew.
import { describe, expect, it } from 'vitest';
import { type MatchOrchestrationInput, matchFileOrchestrator } from '../../../functions/matchFile.js';
import type { PreparedInput } from '../../../shared/formats/prepared.js';
import { outboxLocationFor } from '../../../shared/workflow/outboxNames.js';
import type {
  DeliverResultsInput,
  MatchCustomStatus,
  PlanIncrementalResult,
  PollJobResult,
  PrepareInputResult,
} from '../../../shared/workflow/types.js';
import { sampleMatchInput } from '../../support/matchInput.js';
import { type DriverResult, driveOrchestrator, type Step } from './orchestrationDriver.js';

const START = new Date('2026-02-18T10:00:00Z');

function orchestrationInput(
  policy: Partial<MatchOrchestrationInput['policy']> = {},
): MatchOrchestrationInput {
  return {
    request: sampleMatchInput({ requestedAt: START.toISOString() }),
    policy: {
      initialIntervalSeconds: 30,
      maxIntervalSeconds: 600,
      backoffFactor: 1.5,
      deadlineHours: 1,
      pollsPerGeneration: 1_000,
      segmentsPerHour: 100_000,
      permanentErrorLimit: 3,
      ...policy,
    },
  };
}

/** What prepareInput returns for the sample request: a GeoJSON file rewritten as GEM-ready Parquet. */
const PREPARED: PreparedInput = {
  format: 'geojson',
  source: { container: 'inbox', name: 'roads.parquet', etag: '0x1' },
  options: { outputFormat: 'geojson' },
  layer: null,
  crs: { kind: 'crs84', source: 'GeoJSON (RFC 7946)' },
  prepared: { container: 'outbox', name: '.prepared/abc/roads.parquet', etag: '0x2', byteLength: 99 },
  featureCount: 900,
  gemRowCount: 1_000,
};

/** A GEM job that runs until `finishesAt` (never, when null) and then succeeds. */
function activities(
  finishesAt: Date | null,
  prepared: PrepareInputResult = { valid: true, prepared: PREPARED, notes: [] },
) {
  return (name: string, input: unknown, now: Date): unknown => {
    switch (name) {
      case 'prepareInput':
        return prepared;
      case 'validateInput':
        return { valid: true, rowCount: 1_000, problemCount: 0, summary: 'ok' };
      case 'stageInput':
        return { pdgFilename: 'roads-abc.parquet', sha256: 'abc', size: 10, skipped: false };
      case 'submitJob':
        return { jobId: 7, reused: false, status: 'REQUESTED' };
      case 'pollJob': {
        const done = finishesAt !== null && now >= finishesAt;
        const poll: PollJobResult = {
          jobId: 7,
          status: done ? 'SUCCESS' : 'IN_PROGRESS',
          terminal: done,
          succeeded: done,
          resultFilename: done ? 'roads-abc_result.parquet' : null,
          statistics: null,
          message: null,
          error: null,
        };
        return poll;
      }
      case 'deliverResults': {
        const deliver = input as DeliverResultsInput;
        return deliver.timedOut
          ? { outcome: 'timed-out', outputs: { error: 'roads.error.json' }, summaryBlob: 'roads.error.json' }
          : {
              outcome: 'succeeded',
              outputs: { results: 'roads.results.parquet', summary: 'roads.summary.json' },
              summaryBlob: 'roads.summary.json',
            };
      }
      default:
        throw new Error(`unexpected activity ${name}`);
    }
  };
}

const polls = (steps: Step[]) => steps.filter((s) => s.kind === 'activity' && s.name === 'pollJob');
const deliverInput = (run: DriverResult) =>
  run.steps.find((s) => s.kind === 'activity' && s.name === 'deliverResults') as
    | { input: DeliverResultsInput }
    | undefined;

/** Runs generations until the instance completes, the way continueAsNew restarts it. */
function runToCompletion(input: MatchOrchestrationInput, finishesAt: Date | null) {
  const generations: DriverResult[] = [];
  let next: unknown = input;
  let clock = START;
  for (let i = 0; i < 20; i++) {
    const run = driveOrchestrator(matchFileOrchestrator, {
      input: next,
      start: clock,
      activity: activities(finishesAt),
    });
    generations.push(run);
    if (run.error) throw run.error;
    if (run.continuedAsNew === undefined) return generations;
    next = run.continuedAsNew;
    clock = run.now;
  }
  throw new Error('the orchestration never completed');
}

describe('matchFile monitor loop', () => {
  it('waits on a durable timer between every two polls, across continueAsNew', () => {
    const generations = runToCompletion(
      orchestrationInput({ pollsPerGeneration: 3 }),
      new Date(START.getTime() + 40 * 60_000),
    );
    expect(generations.length).toBeGreaterThan(2);
    const steps = generations.flatMap((g) => g.steps);
    const kinds = steps
      .filter((s) => s.kind === 'timer' || s.name === 'pollJob')
      .map((s) => (s.kind === 'timer' ? 'timer' : 'poll'));
    for (let i = 1; i < kinds.length; i++) {
      expect(`${kinds[i - 1]} → ${kinds[i]} (step ${i})`).not.toBe(`poll → poll (step ${i})`);
    }
    const last = generations.at(-1)!;
    expect(last.output).toMatchObject({ outcome: 'succeeded', jobId: 7 });
  });

  it('carries startedAt, rowCount and the completion estimate over continueAsNew', () => {
    const generations = runToCompletion(
      orchestrationInput({ pollsPerGeneration: 2 }),
      new Date(START.getTime() + 30 * 60_000),
    );
    const monitoring = generations.map(
      (g) =>
        g.customStatuses.find((s) => (s as MatchCustomStatus).phase === 'monitoring') as MatchCustomStatus,
    );
    expect(monitoring.length).toBeGreaterThan(2);
    for (const status of monitoring) {
      expect(status).toMatchObject({
        startedAt: START.toISOString(),
        rowCount: 1_000,
        estimatedCompletion: monitoring[0]!.estimatedCompletion,
      });
    }
    expect(monitoring[0]!.estimatedCompletion).not.toBeNull();
    expect(generations.at(-1)!.output).toMatchObject({ startedAt: START.toISOString() });
  });

  it('a job still running at the deadline is polled at the deadline, then delivered as timed-out with its last status and the deadline', () => {
    const generations = runToCompletion(orchestrationInput({ deadlineHours: 1 }), null);
    const last = generations.at(-1)!;
    const allPolls = generations.flatMap((g) => polls(g.steps));
    const deadline = new Date(START.getTime() + 3_600_000);
    // No wait runs past the deadline, and the last look at the job is at the deadline.
    for (const step of generations.flatMap((g) => g.steps)) {
      if (step.kind === 'timer') expect(step.fireAt.getTime()).toBeLessThanOrEqual(deadline.getTime());
    }
    expect(allPolls.at(-1)!.at.toISOString()).toBe(deadline.toISOString());
    const deliver = deliverInput(last);
    expect(deliver?.input).toMatchObject({
      timedOut: true,
      poll: null,
      lastGemStatus: 'IN_PROGRESS',
      deadline: deadline.toISOString(),
    });
    expect(last.output).toMatchObject({ outcome: 'timed-out', gemStatus: 'IN_PROGRESS' });
  });

  it('a job that finishes during the last wait before the deadline is delivered, not timed out', () => {
    const deadline = new Date(START.getTime() + 3_600_000);
    const generations = runToCompletion(
      orchestrationInput({ deadlineHours: 1 }),
      new Date(deadline.getTime() - 1_000),
    );
    expect(generations.at(-1)!.output).toMatchObject({ outcome: 'succeeded', gemStatus: 'SUCCESS' });
  });

  it('started without its input, it fails before any task with a message that says what is missing', () => {
    for (const input of [undefined, {}, { request: orchestrationInput().request }]) {
      const run = driveOrchestrator(matchFileOrchestrator, {
        input,
        start: START,
        activity: activities(null),
      });
      expect(run.steps).toEqual([]);
      expect(String((run.error as Error)?.message)).toMatch(
        /matchFile needs an input \{ request, policy \}.*POST \/api\/matches/,
      );
    }
  });

  it('started without an outbox location (by hand, or before runs had folders), it gets its own', () => {
    const input = orchestrationInput();
    const { outbox: _, ...request } = input.request;
    const run = driveOrchestrator(matchFileOrchestrator, {
      input: { ...input, request: { ...request, outputStem: 'roads' } },
      start: START,
      instanceId: 'match-legacy',
      activity: activities(new Date(START.getTime() + 10 * 60_000)),
    });
    const location = outboxLocationFor(input.request.source, 'match-legacy');
    expect(location.run).toBe('match-legacy');
    const inputs = run.steps.flatMap((s) => (s.kind === 'activity' ? [s.input] : []));
    expect(inputs[0]).toMatchObject({ outbox: location });
    expect(deliverInput(run)?.input.request.outbox).toEqual(location);
  });
});

describe('matchFile prepare step', () => {
  const inputsOf = (steps: Step[], name: string) =>
    steps.flatMap((s) => (s.kind === 'activity' && s.name === name ? [s.input] : []));

  it('validates and stages the prepared file, and hands the prepared input to delivery across continueAsNew', () => {
    const generations = runToCompletion(
      orchestrationInput({ pollsPerGeneration: 2 }),
      new Date(START.getTime() + 20 * 60_000),
    );
    expect(generations.length).toBeGreaterThan(1);
    const first = generations[0]!.steps.filter((s) => s.kind === 'activity').map((s) => s.name);
    expect(first.slice(0, 4)).toEqual(['prepareInput', 'validateInput', 'stageInput', 'submitJob']);
    const steps = generations.flatMap((g) => g.steps);
    expect(inputsOf(steps, 'prepareInput')).toHaveLength(1);
    for (const name of ['validateInput', 'stageInput']) {
      expect(inputsOf(steps, name)).toEqual([expect.objectContaining({ preparedFile: PREPARED.prepared })]);
    }
    expect(deliverInput(generations.at(-1)!)?.input.prepared).toEqual(PREPARED);
  });

  it('a refused file ends the run invalid-input with its report, and no GEM job', () => {
    const refused: PrepareInputResult = {
      valid: false,
      validation: {
        valid: false,
        rowCount: 12,
        reportBlob: 'roads/match-test/validation-report.json',
        problemCount: 1,
        summary: 'The file failed validation with 1 problem(s): 1 × geometry-type. No GEM job was submitted.',
      },
    };
    const run = driveOrchestrator(matchFileOrchestrator, {
      input: orchestrationInput(),
      start: START,
      activity: activities(null, refused),
    });
    expect(run.steps.map((s) => (s.kind === 'activity' ? s.name : 'timer'))).toEqual(['prepareInput']);
    expect(run.output).toMatchObject({
      outcome: 'invalid-input',
      jobId: null,
      outputs: { validationReport: 'roads/match-test/validation-report.json' },
    });
  });

  it('GEM Parquet is validated and staged as it is', () => {
    const gem: PreparedInput = {
      ...PREPARED,
      format: 'gem-parquet',
      prepared: { ...PREPARED.source, byteLength: 99 },
    };
    const run = driveOrchestrator(matchFileOrchestrator, {
      input: orchestrationInput(),
      start: START,
      activity: activities(new Date(START.getTime() + 60_000), { valid: true, prepared: gem, notes: [] }),
    });
    for (const name of ['validateInput', 'stageInput']) {
      expect(inputsOf(run.steps, name)).toEqual([
        expect.not.objectContaining({ preparedFile: expect.anything() }),
      ]);
    }
    expect(deliverInput(run)?.input.prepared).toEqual(gem);
  });

  it('lane-level inputs and files already in PDG storage are not prepared', () => {
    for (const request of [
      sampleMatchInput({ jobType: 'LANE_LEVEL_MATCHING', orbisVersion: '1.1' }),
      sampleMatchInput({ source: { kind: 'pdg', filename: 'roads.parquet' } }),
    ]) {
      const run = driveOrchestrator(matchFileOrchestrator, {
        input: { ...orchestrationInput(), request },
        start: START,
        activity: activities(new Date(START.getTime() + 60_000)),
      });
      expect(inputsOf(run.steps, 'prepareInput')).toEqual([]);
      expect(deliverInput(run)?.input.prepared).toBeUndefined();
    }
  });
});

describe('matchFile failures', () => {
  /** Fake activities where `failing` throws, and everything else behaves as a job that never finishes. */
  function failingActivities(failing: string, options: { pollError?: boolean } = {}) {
    const normal = activities(null);
    return (name: string, input: unknown, now: Date): unknown => {
      if (name === failing) throw new Error(`${name} exhausted its retries: storage said 403`);
      if (options.pollError && name === 'pollJob') {
        return {
          jobId: 7,
          status: 'UNKNOWN',
          terminal: false,
          succeeded: false,
          resultFilename: null,
          statistics: null,
          message: null,
          error: { message: 'GEM job 7 was not found', permanent: true },
        } satisfies PollJobResult;
      }
      if (name === 'recordFailure') return { errorBlob: 'roads.error.json' };
      if (name === 'notify') return { delivered: true, attempts: 1, status: 200 };
      return normal(name, input, now);
    };
  }
  const activityCalls = (run: DriverResult, name: string) =>
    run.steps.filter(
      (s): s is Extract<Step, { kind: 'activity' }> => s.kind === 'activity' && s.name === name,
    );

  it('records the phase and the message in the outbox, tells the callback, then fails the instance', () => {
    const input = orchestrationInput();
    input.request.callbackUrl = 'https://example.test/done';
    const run = driveOrchestrator(matchFileOrchestrator, {
      input,
      start: START,
      activity: failingActivities('stageInput'),
    });
    expect(String(run.error)).toMatch(/stageInput exhausted its retries/);
    const [recorded] = activityCalls(run, 'recordFailure');
    expect(recorded?.input).toMatchObject({
      phase: 'staging',
      message: expect.stringMatching(/stageInput exhausted its retries/),
      jobId: null,
      instanceId: 'match-test',
    });
    expect(activityCalls(run, 'notify').map((s) => s.input)).toEqual([
      { url: 'https://example.test/done', summaryBlob: 'roads.error.json', instanceId: 'match-test' },
    ]);
    const last = run.customStatuses.at(-1) as MatchCustomStatus;
    expect(last.phase).toBe('failed');
    // A failed instance has no output: the callback's outcome is published in the custom status.
    expect(last.notification).toEqual({ delivered: true, attempts: 1, status: 200 });
    expect(last.message).toMatch(/stageInput exhausted its retries/);
    expect(activityCalls(run, 'submitJob')).toHaveLength(0);
  });

  it('a job that can no longer be read ends in the monitoring phase with the job id recorded', () => {
    const run = driveOrchestrator(matchFileOrchestrator, {
      input: orchestrationInput(),
      start: START,
      activity: failingActivities('none', { pollError: true }),
    });
    expect(String(run.error)).toMatch(/could not be followed: GEM job 7 was not found/);
    expect(activityCalls(run, 'pollJob')).toHaveLength(3); // permanentErrorLimit
    const [recorded] = activityCalls(run, 'recordFailure');
    expect(recorded?.input).toMatchObject({ phase: 'monitoring', jobId: 7, polls: 3 });
    expect(activityCalls(run, 'notify')).toHaveLength(0); // no callback was asked for
  });
});

describe('matchFile incremental step', () => {
  const DELTA = {
    container: 'outbox',
    name: '.prepared/abc/incremental-def/delta.parquet',
    etag: '0x3',
    byteLength: 50,
  };
  const CARRIED = '.prepared/abc/incremental-def/carried.parquet';
  const plan = (deltaRows: number): PlanIncrementalResult => ({
    applied: true,
    previousMatchId: 'match-previous',
    counts: { unchanged: 1_000 - deltaRows, changed: deltaRows, new: 0, deleted: 2 },
    delta: { ...DELTA, rows: deltaRows },
    carried: { blobName: CARRIED, rows: 1_500 },
  });
  const incrementalInput = (policy: Partial<MatchOrchestrationInput['policy']> = {}) => {
    const input = orchestrationInput(policy);
    return { ...input, request: { ...input.request, incremental: true } };
  };
  const drive = (input: MatchOrchestrationInput, result: PlanIncrementalResult, finishesAt: Date | null) => {
    const base = activities(finishesAt);
    return driveOrchestrator(matchFileOrchestrator, {
      input,
      start: START,
      activity: (name, activityInput, now) =>
        name === 'planIncremental' ? result : base(name, activityInput, now),
    });
  };
  const called = (run: DriverResult, name: string) =>
    run.steps.filter((s) => s.kind === 'activity' && s.name === name) as { input: unknown }[];

  it('stages the delta, and delivers the carried results merged with the job’s over the full prepared file', () => {
    const run = drive(incrementalInput(), plan(10), new Date(START.getTime() + 60_000));
    expect(run.error).toBeUndefined();
    const [planned] = called(run, 'planIncremental');
    expect(planned?.input).toMatchObject({ instanceId: 'match-test', prepared: PREPARED });
    // Validation saw the whole prepared file; staging sees only the delta.
    expect(called(run, 'validateInput')[0]?.input).toMatchObject({ preparedFile: PREPARED.prepared });
    expect(called(run, 'stageInput')[0]?.input).toMatchObject({ preparedFile: DELTA });
    const delivered = deliverInput(run)!.input;
    expect(delivered.prepared).toEqual(PREPARED);
    expect(delivered.resultSources).toEqual([
      { kind: 'outbox', blobName: CARRIED },
      { kind: 'pdg', filename: 'roads-abc_result.parquet' },
    ]);
    expect(delivered.incremental).toEqual({
      applied: true,
      previousMatchId: 'match-previous',
      unchanged: 990,
      changed: 10,
      new: 0,
      deleted: 2,
      gemRowsSubmitted: 10,
      gemHoursAvoided: 0.0099,
    });
  });

  it('submits no job when nothing is new or changed, and delivers the carried results alone', () => {
    const run = drive(incrementalInput(), plan(0), null);
    expect(run.error).toBeUndefined();
    expect(called(run, 'stageInput')).toHaveLength(0);
    expect(called(run, 'submitJob')).toHaveLength(0);
    expect(called(run, 'pollJob')).toHaveLength(0);
    const delivered = deliverInput(run)!.input;
    expect(delivered).toMatchObject({ jobId: null, pdgFilename: null, timedOut: false, polls: 0 });
    expect(delivered.resultSources).toEqual([{ kind: 'outbox', blobName: CARRIED }]);
    expect(run.output).toMatchObject({ outcome: 'succeeded', jobId: null, polls: 0 });
  });

  it('a plan that does not apply leaves the single-job path as it is, with the reason for the summary', () => {
    const refused: PlanIncrementalResult = {
      applied: false,
      reason: 'another release',
      previousMatchId: 'match-previous',
    };
    const run = drive(incrementalInput(), refused, new Date(START.getTime() + 60_000));
    expect(called(run, 'stageInput')[0]?.input).toMatchObject({ preparedFile: PREPARED.prepared });
    const delivered = deliverInput(run)!.input;
    expect(delivered.resultSources).toBeUndefined();
    expect(delivered.incremental).toEqual(refused);
  });

  it('carries the plan over continueAsNew, so the next generation still merges the carried results', () => {
    const first = drive(
      incrementalInput({ pollsPerGeneration: 1 }),
      plan(10),
      new Date(START.getTime() + 3_600_000),
    );
    const resumed = first.continuedAsNew as MatchOrchestrationInput;
    expect(resumed.resume?.incremental).toEqual(plan(10));
    const next = driveOrchestrator(matchFileOrchestrator, {
      input: resumed,
      start: first.now,
      activity: activities(START),
    });
    expect(called(next, 'planIncremental')).toHaveLength(0);
    expect(deliverInput(next)!.input.resultSources?.[0]).toEqual({ kind: 'outbox', blobName: CARRIED });
  });

  it('is not asked for unless the request is incremental', () => {
    const run = driveOrchestrator(matchFileOrchestrator, {
      input: orchestrationInput(),
      start: START,
      activity: activities(new Date(START.getTime() + 60_000)),
    });
    expect(called(run, 'planIncremental')).toHaveLength(0);
    expect(deliverInput(run)!.input.incremental).toBeUndefined();
  });
});
