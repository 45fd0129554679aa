// registerActivities: one durable-functions activity per method of an interface, named after the method, with
// proxies typed from it. `df.app.activity` is observed (and still called: in test mode it registers nothing)
// to see what the host would be given.
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { type ActivityNames, registerActivities } from '../../../functions/activities.js';

interface Greetings {
  greet(input: { name: string }): Promise<{ text: string }>;
  count(input: number[], context: InvocationContext): Promise<number>;
}

const NAMES: ActivityNames<Greetings> = { greet: true, count: true };

type Handler = (input: unknown, context: InvocationContext) => Promise<unknown>;

function observeRegistrations() {
  const spy = vi.spyOn(df.app, 'activity');
  const handlers = () =>
    spy.mock.calls.map(([name, options]) => ({ name, handler: options.handler as Handler, options }));
  return { handlers };
}

/** The activity name and input of a yielded task, plain or with retry (as the replay engine reads it). */
function actionOf(task: unknown): { functionName?: string; input?: unknown } | undefined {
  const t = task as { action?: object; innerTask?: { action?: object } };
  return (t.action ?? t.innerTask?.action) as { functionName?: string; input?: unknown } | undefined;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('registerActivities', () => {
  it('registers one activity per method, named after it, in the order the names list them', () => {
    const { handlers } = observeRegistrations();
    const proxies = registerActivities<Greetings>(NAMES, () => {
      throw new Error('not built at registration');
    });
    expect(handlers().map((h) => h.name)).toEqual(['greet', 'count']);
    expect(Object.keys(proxies)).toEqual(['greet', 'count']);
    expect(proxies.greet.name).toBe('greet');
  });

  it('builds the implementation only when an activity runs, and hands the method its input and context', async () => {
    const { handlers } = observeRegistrations();
    const built = vi.fn();
    const context = { invocationId: 'inv-1' } as unknown as InvocationContext;
    const seen: unknown[] = [];
    registerActivities<Greetings>(NAMES, async () => {
      built();
      return {
        greet: async ({ name }) => ({ text: `hello ${name}` }),
        async count(input, invocation) {
          seen.push(invocation);
          return input.length;
        },
      };
    });
    expect(built).not.toHaveBeenCalled();
    const [greet, count] = handlers();
    await expect(greet!.handler({ name: 'Ada' }, context)).resolves.toEqual({ text: 'hello Ada' });
    await expect(count!.handler([1, 2, 3], context)).resolves.toBe(3);
    expect(built).toHaveBeenCalledTimes(2);
    expect(seen).toEqual([context]);
  });

  it("an implementation's failure is the activity's failure", async () => {
    const { handlers } = observeRegistrations();
    registerActivities<Greetings>(NAMES, () => {
      throw new Error('settings are invalid');
    });
    const context = {} as InvocationContext;
    await expect(handlers()[0]!.handler({ name: 'Ada' }, context)).rejects.toThrow('settings are invalid');
  });

  it('passes the extra input bindings to every activity of the set', () => {
    const { handlers } = observeRegistrations();
    const client = df.input.durableClient();
    registerActivities<Greetings>(NAMES, () => ({}) as Greetings, { extraInputs: [client] });
    expect(handlers().map((h) => h.options.extraInputs)).toEqual([[client], [client]]);
  });

  it('a proxy yields the activity task (with retry when asked) and returns what the replay engine answers', () => {
    const proxies = registerActivities<Greetings>(NAMES, () => ({}) as Greetings);
    const plain = proxies.greet.task({ name: 'Ada' });
    expect(actionOf(plain)).toMatchObject({ functionName: 'greet', input: { name: 'Ada' } });
    const retried = proxies.count.task([1], new df.RetryOptions(1_000, 2));
    expect(retried).toHaveProperty('innerTask');
    expect(actionOf(retried)).toMatchObject({ functionName: 'count', input: [1] });

    const generator = proxies.greet.call({ name: 'Ada' });
    const yielded = generator.next();
    expect(actionOf(yielded.value)).toMatchObject({ functionName: 'greet' });
    expect(generator.next({ text: 'hello Ada' })).toEqual({ done: true, value: { text: 'hello Ada' } });
  });

  it('types each proxy from its method, and the names from the interface', () => {
    const proxies = registerActivities<Greetings>(NAMES, () => ({}) as Greetings);
    expectTypeOf(proxies.greet.call).parameter(0).toEqualTypeOf<{ name: string }>();
    expectTypeOf(proxies.greet.call).returns.toEqualTypeOf<Generator<df.Task, { text: string }, unknown>>();
    expectTypeOf(proxies.count.call).parameter(0).toEqualTypeOf<number[]>();
    // @ts-expect-error a method left out of the names
    const missing: ActivityNames<Greetings> = { greet: true };
    // @ts-expect-error a name that is no method
    const extra: ActivityNames<Greetings> = { greet: true, count: true, other: true };
    expect([missing, extra]).toHaveLength(2);
  });
});
