import type { FunctionInput, InvocationContext } from '@azure/functions';
import type { RetryOptions, Task } from 'durable-functions';
import * as df from 'durable-functions';

/**
 * A registered activity whose input and output types travel with it. durable-functions types every
 * `yield` result as `any`; `yield* activity.call(input)` gives the orchestrator the activity's real result type
 * while still yielding the very same Task to the replay engine.
 */
export interface TypedActivity<Input, Output> {
  readonly name: string;
  call(input: Input, retry?: RetryOptions): Generator<Task, Output, unknown>;
  /** The bare Task, for fan-out with `context.df.Task.all`; the caller asserts the result type. */
  task(input: Input, retry?: RetryOptions): Task;
}

export function registerActivity<Input, Output>(
  name: string,
  handler: (input: Input, context: InvocationContext) => Promise<Output>,
  options: { extraInputs?: FunctionInput[] } = {},
): TypedActivity<Input, Output> {
  const registered = df.app.activity(name, {
    handler: (input: unknown, context: InvocationContext) => handler(input as Input, context),
    ...(options.extraInputs ? { extraInputs: options.extraInputs } : {}),
  });
  return {
    name,
    task(input: Input, retry?: RetryOptions): Task {
      const task = registered(input);
      return retry ? task.withRetry(retry) : task;
    },
    *call(input: Input, retry?: RetryOptions): Generator<Task, Output, unknown> {
      return (yield this.task(input, retry)) as Output;
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
