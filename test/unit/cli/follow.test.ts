// Following a match: the loop rides out an app that stops answering for a while (a host restart, a redeploy)
// and says so, but not a refused key or an outage longer than its tolerance; it waits for a match that has not
// started yet, ends the wait when the upload was refused, and Ctrl-C stops following (exit 130), never the match.
import { describe, expect, it } from 'vitest';
import type { AppClient, MatchStatus } from '../../../cli/appClient.js';
import { CliError, EXIT } from '../../../cli/errors.js';
import { followMatch, UNANSWERED_TOLERANCE_MS, waitForStart } from '../../../cli/follow.js';
import { Output } from '../../../cli/output.js';
import { captured } from './io.js';

const done = {
  id: 'match-1',
  runtimeStatus: 'Completed',
  phase: 'completed',
  outcome: 'succeeded',
  jobId: 1,
  gemStatus: 'SUCCESS',
  polls: 3,
  estimatedCompletion: null,
  statistics: null,
  counts: null,
  incremental: null,
  outputs: { results: null, summary: null, error: null, validationReport: null, matched: null },
  error: null,
  notification: null,
  createdTime: '2026-03-01T10:00:00Z',
  lastUpdatedTime: '2026-03-01T10:00:00Z',
} satisfies MatchStatus;

const unreachable = () =>
  new CliError('AppUnreachable', EXIT.connection, 'Nothing answers at http://x (ECONNREFUSED).');

/** An app whose getMatch answers from a script: a status, undefined (404), or an error to throw. */
function scriptedApp(answers: (MatchStatus | undefined | Error)[]): AppClient {
  return {
    async getMatch() {
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as AppClient;
}

function follow(app: AppClient, extra: Partial<Parameters<typeof followMatch>[0]> = {}) {
  const out = captured(false);
  const output = new Output('plain', out.stream, captured().stream);
  const run = followMatch({
    app,
    id: 'match-1',
    output,
    clock: { now: Date.now, scale: 1 },
    intervalMs: 1,
    ...extra,
  });
  return { run, text: out.text };
}

describe('following a match', () => {
  it('waits out an app that does not answer for a while, and says when it does again', async () => {
    const { run, text } = follow(scriptedApp([unreachable(), unreachable(), done]));
    await expect(run).resolves.toEqual(done);
    expect(text()).toContain(
      'Nothing answers at http://x (ECONNREFUSED). Retrying for up to 120 s.\nThe app answers again.\n',
    );
  });

  it('gives up once the app has not answered for longer than the tolerance', async () => {
    let now = 0;
    const app = scriptedApp([unreachable(), unreachable(), unreachable(), done]);
    const realNow = () => {
      now += UNANSWERED_TOLERANCE_MS / 2 + 1;
      return now;
    };
    await expect(follow(app, { realNow }).run).rejects.toMatchObject({ code: 'AppUnreachable' });
  });

  it('never waits out a refused key', async () => {
    const refused = new CliError('FunctionKeyRefused', EXIT.connection, 'refused');
    await expect(follow(scriptedApp([refused, done])).run).rejects.toBe(refused);
  });

  it('a match that does not exist is an error, unless the caller waits for it to start', async () => {
    await expect(follow(scriptedApp([undefined])).run).rejects.toMatchObject({
      code: 'MatchNotFound',
      exitCode: EXIT.failed,
    });
    let missingPolls = 0;
    const { run } = follow(scriptedApp([undefined, undefined, done]), {
      whileMissing: async () => {
        missingPolls++;
        return undefined;
      },
    });
    await expect(run).resolves.toEqual(done);
    expect(missingPolls).toBe(2);
  });

  it('an upload refused by the app ends the wait for its match with that error', async () => {
    const rejected = new CliError('UploadRejected', EXIT.failed, 'no match');
    const app = scriptedApp([undefined, undefined]);
    const started = waitForStart({
      app,
      id: 'match-1',
      intervalMs: 1,
      timeoutMs: 10_000,
      whileMissing: async () => rejected,
    });
    await expect(started).rejects.toBe(rejected);
    const late = waitForStart({
      app: scriptedApp([undefined, undefined, undefined]),
      id: 'm',
      intervalMs: 1,
      timeoutMs: 5,
      whileMissing: async () => undefined,
    });
    await expect(late).resolves.toBeUndefined();
  });

  it('Ctrl-C stops following with exit 130 and says how to follow again', async () => {
    const controller = new AbortController();
    const running = {
      ...done,
      runtimeStatus: 'Running',
      phase: 'monitoring',
      outcome: null,
    } satisfies MatchStatus;
    const app = { getMatch: async () => running } as unknown as AppClient;
    const { run } = follow(app, { intervalMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const error = await run.then(
      () => undefined,
      (e: unknown) => e as CliError,
    );
    expect(error).toMatchObject({ code: 'Interrupted', exitCode: EXIT.interrupted });
    expect(error?.remedy).toContain('gem-flow status match-1 --watch');
  });
});
