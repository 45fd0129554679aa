// How the launcher paces restarts of a crashed host (local/restarts.ts): doubling waits up to a cap, a limit per
// sliding window, and the sentences npm start prints.
import { describe, expect, it } from 'vitest';
import {
  createRestartBudget,
  DEFAULT_RESTART_POLICY,
  describeExit,
  hostDownMessage,
  restartLine,
} from '../../../local/restarts.js';

const policy = { maxRestarts: 5, windowMs: 600_000, initialDelayMs: 1000, maxDelayMs: 10_000 };

describe('restart budget', () => {
  it('doubles the wait for each restart in the window, up to the cap, then refuses', () => {
    let now = 0;
    const budget = createRestartBudget(policy, () => now);
    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(budget.take()?.delayMs);
      now += 1000;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 10_000, undefined]);
    expect(budget.inWindow()).toBe(5);
  });

  it('forgets restarts older than the window, so a host that ran for a while starts from the first wait', () => {
    let now = 0;
    const budget = createRestartBudget(policy, () => now);
    for (let i = 0; i < 5; i++) expect(budget.take()).toBeDefined();
    expect(budget.take()).toBeUndefined();
    now += 600_000;
    expect(budget.take()).toEqual({ restart: 1, delayMs: 1000 });
  });

  it('never restarts with a limit of 0', () => {
    expect(createRestartBudget({ ...policy, maxRestarts: 0 }).take()).toBeUndefined();
  });

  it('defaults to 5 restarts in 10 minutes', () => {
    expect(DEFAULT_RESTART_POLICY).toMatchObject({ maxRestarts: 5, windowMs: 600_000 });
  });
});

describe('what npm start prints', () => {
  it('names the exit, the wait and the count in the restart line', () => {
    expect(
      restartLine(describeExit(null, 'SIGKILL'), { restart: 2, delayMs: 2000 }, DEFAULT_RESTART_POLICY),
    ).toBe(
      'The Functions host exited unexpectedly (signal SIGKILL); restarting it in 2 s on the same port and state (restart 2 of at most 5 in 10 min).',
    );
  });

  it('names the last exit and the log file when the host stays down', () => {
    const message = hostDownMessage(
      'code 1, during start-up',
      5,
      DEFAULT_RESTART_POLICY,
      '/x/.local/host/host.log',
    );
    expect(message).toContain('6 unexpected exits within 10 min');
    expect(message).toContain('the last one code 1, during start-up');
    expect(message).toContain('/x/.local/host/host.log');
    expect(hostDownMessage(describeExit(3, null), 0, undefined, undefined)).toBe(
      'The Functions host exited unexpectedly (code 3).',
    );
  });
});
