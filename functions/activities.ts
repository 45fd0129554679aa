/**
 * Activities registered from their interface, the way Temporal's `proxyActivities<typeof activities>()` gives
 * a workflow typed stubs: `registerActivities<A>(names, implementation)` registers one activity per method of
 * `A`, named after the method, and returns a proxy per method whose input and result types are the method's.
 * The interface (e.g. `MatchActivities` in shared/workflow/types.ts) is then the only place an activity's name,
 * input and output are written down, so a registration cannot drift from the implementation it calls.
 * durable-functions types every `yield` result as `any`; `yield* proxy.call(input)` gives the orchestrator the
 * activity's real result type while still yielding the very same Task to the replay engine.
 */
import type { FunctionInput, InvocationContext } from '@azure/functions';
import type { RetryOptions, Task } from 'durable-functions';
import * as df from 'durable-functions';
import { jobIdIn } from '../shared/telemetry/attributes.js';
import { setMatchAttributes, withMatchAttributes } from '../shared/telemetry/spans.js';

/** A registered activity whose input and output types travel with it. */
export interface TypedActivity<Input, Output> {
  readonly name: string;
  call(input: Input, retry?: RetryOptions): Generator<Task, Output, unknown>;
  /** The bare Task, for fan-out with `context.df.Task.all`; the caller asserts the result type. */
  task(input: Input, retry?: RetryOptions): Task;
}

/**
 * What an activity interface looks like: each method takes the activity's (JSON) input and, when it needs the
 * host (a client binding, the invocation log), the invocation context, and promises a JSON result.
 */
export type ActivityInterface<A> = {
  readonly [K in keyof A]: (input: never, context: InvocationContext) => Promise<unknown>;
};

type InputOf<Method> = Method extends (input: infer Input, ...rest: never[]) => unknown ? Input : never;
type OutputOf<Method> = Method extends (...args: never[]) => Promise<infer Output> ? Output : never;

/** The orchestrator's side of an activity interface: one typed proxy per method, under the method's name. */
export type ActivityProxies<A> = {
  readonly [K in keyof A & string]: TypedActivity<InputOf<A[K]>, OutputOf<A[K]>>;
};

/**
 * Every method name of `A`, as the keys of an object. Types vanish at run time, so the names are written once
 * more; as a key set (rather than an array) the compiler checks that it lists every method and nothing else.
 */
export type ActivityNames<A> = { readonly [K in keyof A]-?: true };

export interface RegisterActivitiesOptions {
  /** Input bindings every activity of the set receives (e.g. `df.input.durableClient()`). */
  extraInputs?: FunctionInput[];
}

/**
 * Registers one activity per method of `A`, in the order `names` lists them (the order of the host's function
 * list). `implementation` is called on each invocation, not at registration, so importing the app builds no
 * clients and reads no settings; it may return a promise (e.g. a module loaded on first use).
 */
export function registerActivities<A extends ActivityInterface<A>>(
  names: ActivityNames<A>,
  implementation: () => A | Promise<A>,
  options: RegisterActivitiesOptions = {},
): ActivityProxies<A> {
  const proxies: Record<string, TypedActivity<unknown, unknown>> = {};
  for (const name of Object.keys(names) as (keyof A & string)[]) {
    proxies[name] = registerActivity(name, options, (input, context) =>
      // Every span of the invocation (and the TomTom and storage requests below it) names the match.
      withMatchAttributes(
        { matchId: matchIdOf(context), activity: name, jobId: jobIdIn(input) },
        async () => {
          const activities = await implementation();
          const method: ActivityInterface<A>[typeof name] = activities[name];
          // The input is the JSON the orchestrator passed for this very method, so it has the method's type.
          const result = await method.call(activities, input as never, context);
          if (jobIdIn(input) === undefined) setMatchAttributes({ jobId: jobIdIn(result) });
          return result;
        },
      ),
    );
  }
  return proxies as ActivityProxies<A>;
}

/**
 * The orchestration instance that scheduled the activity: the Durable Task extension's activity trigger binds
 * it as `instanceId` (ActivityTriggerAttributeBindingProvider.cs in azure-functions-durable-extension), which
 * reaches the worker as trigger metadata.
 */
function matchIdOf(context: InvocationContext): string | undefined {
  const instanceId = context.triggerMetadata?.instanceId;
  return instanceId === undefined || instanceId === null ? undefined : String(instanceId);
}

function registerActivity(
  name: string,
  options: RegisterActivitiesOptions,
  handler: (input: unknown, context: InvocationContext) => Promise<unknown>,
): TypedActivity<unknown, unknown> {
  const registered = df.app.activity(name, {
    handler,
    ...(options.extraInputs ? { extraInputs: options.extraInputs } : {}),
  });
  return {
    name,
    task(input: unknown, retry?: RetryOptions): Task {
      const task = registered(input);
      return retry ? task.withRetry(retry) : task;
    },
    *call(input: unknown, retry?: RetryOptions): Generator<Task, unknown, unknown> {
      return yield this.task(input, retry);
    },
  };
}

/** Retries for activities that talk to TomTom or storage: transient faults the HTTP pipeline could not absorb. */
export function ioRetryOptions(): RetryOptions {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
}
