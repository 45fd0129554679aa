/**
 * Steps an orchestrator generator by hand, as the replay engine would on a first execution: each yielded
 * activity task is answered by a fake, each durable timer moves a virtual clock to its fire time. No host,
 * no task hub: `@azure/functions` runs in test mode, so the registrations the module makes are skipped.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';

export type Step =
  | { kind: 'activity'; name: string; input: unknown; at: Date }
  | { kind: 'timer'; fireAt: Date; at: Date };

export interface DriverOptions {
  input: unknown;
  start: Date;
  instanceId?: string;
  /** Answers an activity call; a thrown error surfaces in the orchestrator as the activity's failure. */
  activity(name: string, input: unknown, now: Date): unknown;
  /** Stops a runaway loop in a test that fails. */
  maxSteps?: number;
}

export interface DriverResult {
  steps: Step[];
  output: unknown;
  /** The input passed to `continueAsNew`, when the generation ended that way. */
  continuedAsNew: unknown;
  customStatuses: unknown[];
  error: unknown;
  now: Date;
}

const TIMER = Symbol('timer');

interface ActionLike {
  functionName?: string;
  input?: unknown;
}

/** The activity name and input of a yielded task (plain or `.withRetry`). */
function activityOf(task: unknown): { name: string; input: unknown } | undefined {
  const t = task as { action?: ActionLike; innerTask?: { action?: ActionLike } };
  const action = t.action ?? t.innerTask?.action;
  if (!action?.functionName) return undefined;
  return { name: action.functionName, input: action.input };
}

export function driveOrchestrator(handler: OrchestrationHandler, options: DriverOptions): DriverResult {
  let now = new Date(options.start);
  const steps: Step[] = [];
  const customStatuses: unknown[] = [];
  let continuedAsNew: unknown;
  const context = {
    df: {
      instanceId: options.instanceId ?? 'match-test',
      isReplaying: false,
      get currentUtcDateTime() {
        return now;
      },
      getInput: () => options.input,
      setCustomStatus: (status: unknown) => customStatuses.push(JSON.parse(JSON.stringify(status))),
      createTimer: (fireAt: Date) => ({ [TIMER]: new Date(fireAt) }),
      continueAsNew: (input: unknown) => {
        continuedAsNew = JSON.parse(JSON.stringify(input));
      },
    },
  } as unknown as OrchestrationContext;

  const result: DriverResult = {
    steps,
    output: undefined,
    continuedAsNew: undefined,
    customStatuses,
    error: undefined,
    now,
  };
  const maxSteps = options.maxSteps ?? 10_000;
  try {
    const generator = handler(context) as Generator<unknown, unknown, unknown>;
    let next = generator.next();
    while (!next.done) {
      if (steps.length >= maxSteps) throw new Error(`the orchestrator yielded more than ${maxSteps} tasks`);
      const task = next.value as Record<PropertyKey, unknown>;
      if (task && TIMER in task) {
        const fireAt = task[TIMER] as Date;
        steps.push({ kind: 'timer', fireAt, at: now });
        if (fireAt > now) now = fireAt;
        next = generator.next(undefined);
        continue;
      }
      const activity = activityOf(task);
      if (!activity) throw new Error(`the orchestrator yielded something the driver does not know: ${task}`);
      const input = JSON.parse(JSON.stringify(activity.input ?? null));
      steps.push({ kind: 'activity', name: activity.name, input, at: now });
      let answer: unknown;
      try {
        answer = options.activity(activity.name, input, now);
      } catch (error) {
        next = generator.throw(error);
        continue;
      }
      next = generator.next(JSON.parse(JSON.stringify(answer ?? null)));
    }
    result.output = next.value;
  } catch (error) {
    result.error = error;
  }
  result.continuedAsNew = continuedAsNew;
  result.now = now;
  return result;
}
