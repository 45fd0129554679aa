/**
 * Unit tests of `shared/workflow/status.ts`: toCompactStatus; failureMessageOf; caughtFailureMessage.
 */
import { describe, expect, it } from 'vitest';
import {
  caughtFailureMessage,
  type DurableStatusLike,
  failureMessageOf,
  toCompactStatus,
  withLiveParts,
} from '../../../shared/workflow/status.js';
import type { MatchCustomStatus, MatchResult } from '../../../shared/workflow/types.js';

const times = {
  createdTime: new Date('2026-02-18T10:00:00Z'),
  lastUpdatedTime: '2026-02-18T11:00:00Z',
};

const monitoring: MatchCustomStatus = {
  phase: 'monitoring',
  jobId: 123456789,
  gemStatus: 'IN_PROGRESS',
  polls: 7,
  startedAt: '2026-02-18T10:00:00Z',
  estimatedCompletion: '2026-02-18T12:30:00Z',
  rowCount: 250000,
};

const succeeded: MatchResult = {
  outcome: 'succeeded',
  jobId: 123456789,
  gemStatus: 'SUCCESS',
  statistics: { roads_matched_ratio: 0.8468 },
  outputs: { results: 'roads/a.results.parquet', summary: 'roads/a.summary.json' },
  startedAt: '2026-02-18T10:00:00Z',
  finishedAt: '2026-02-18T12:40:00Z',
  polls: 12,
};

function status(overrides: Partial<DurableStatusLike>): DurableStatusLike {
  return {
    instanceId: 'match-abc',
    runtimeStatus: 'Running',
    customStatus: null,
    output: null,
    ...times,
    ...overrides,
  };
}

describe('toCompactStatus', () => {
  it('shows a running match from its custom status', () => {
    const view = toCompactStatus(status({ customStatus: monitoring }));
    expect(view).toEqual({
      id: 'match-abc',
      runtimeStatus: 'Running',
      phase: 'monitoring',
      outcome: null,
      jobId: 123456789,
      gemStatus: 'IN_PROGRESS',
      polls: 7,
      estimatedCompletion: '2026-02-18T12:30:00Z',
      statistics: null,
      counts: null,
      incremental: null,
      outputs: { results: null, summary: null, error: null, validationReport: null, matched: null },
      error: null,
      notification: null,
      parts: null,
      createdTime: '2026-02-18T10:00:00.000Z',
      lastUpdatedTime: '2026-02-18T11:00:00.000Z',
    });
  });

  it('shows a partitioned match’s parts, with running parts’ job and GEM status read from their own status', () => {
    const parts = {
      total: 2,
      done: 1,
      running: 1,
      failed: 0,
      queued: 0,
      window: 2,
      resubmits: 0,
      refusals: 0,
      list: [
        { index: 1, rows: 10, state: 'running' as const, attempt: 1, jobId: 8, gemStatus: 'REQUESTED' },
        { index: 0, rows: 10, state: 'done' as const, attempt: 1, jobId: 7, gemStatus: 'SUCCESS' },
      ],
      listed: 2,
    };
    const view = toCompactStatus(status({ customStatus: { ...monitoring, parts } }));
    expect(view.parts).toEqual(parts);
    expect(
      toCompactStatus(status({ customStatus: { ...monitoring, parts: { total: 'x' } } })).parts,
    ).toBeNull();
    const live = withLiveParts(
      parts,
      new Map([
        [1, { jobId: 8, gemStatus: 'IN_PROGRESS' }],
        [0, { gemStatus: 'X' }],
      ]),
    );
    expect(live.list.map((p) => p.gemStatus)).toEqual(['IN_PROGRESS', 'SUCCESS']);
  });

  it('shows a pending match that has no custom status yet', () => {
    const view = toCompactStatus(status({ runtimeStatus: 'Pending', customStatus: undefined }));
    expect(view).toMatchObject({
      phase: null,
      jobId: null,
      gemStatus: null,
      polls: 0,
      estimatedCompletion: null,
    });
  });

  it('ignores a custom status of the wrong shape rather than passing it through', () => {
    const view = toCompactStatus(status({ customStatus: { phase: 'dancing', jobId: 'x', polls: '3' } }));
    expect(view).toMatchObject({ phase: null, jobId: null, polls: 0 });
  });

  it('takes a completed match from its output, with outbox URLs when a base is given', () => {
    const view = toCompactStatus(
      status({
        runtimeStatus: 'Completed',
        customStatus: { ...monitoring, phase: 'completed' },
        output: succeeded,
      }),
      { outputBaseUrl: 'https://acct.blob.core.windows.net/outbox' },
    );
    expect(view).toMatchObject({
      phase: 'completed',
      outcome: 'succeeded',
      gemStatus: 'SUCCESS',
      polls: 12,
      estimatedCompletion: null,
      statistics: { roads_matched_ratio: 0.8468 },
      error: null,
    });
    expect(view.outputs.results).toEqual({
      blob: 'roads/a.results.parquet',
      url: 'https://acct.blob.core.windows.net/outbox/roads/a.results.parquet',
    });
    expect(view.outputs.summary?.blob).toBe('roads/a.summary.json');
    expect(view.outputs.error).toBeNull();
  });

  it('shows the callback outcome of a completed match, from its output', () => {
    const output: MatchResult = {
      ...succeeded,
      notification: { delivered: false, attempts: 3, status: 503, error: 'Gave up after 3 attempts.' },
    };
    const view = toCompactStatus(status({ runtimeStatus: 'Completed', output }));
    expect(view.notification).toEqual({
      delivered: false,
      refused: false,
      attempts: 3,
      lastStatus: 503,
      error: 'Gave up after 3 attempts.',
    });
    expect(
      toCompactStatus(status({ runtimeStatus: 'Completed', output: succeeded })).notification,
    ).toBeNull();
  });

  it('shows the refused callback of a failed match, from its custom status', () => {
    const refused = {
      delivered: false,
      refused: true,
      attempts: 0,
      error: 'The callback URL must reach the public internet, but its host 10.0.0.1 is a private address.',
    };
    const view = toCompactStatus(
      status({
        runtimeStatus: 'Failed',
        customStatus: { ...monitoring, phase: 'failed', notification: refused },
        output: 'Orchestrator function failed: boom',
      }),
    );
    expect(view.notification).toEqual({
      delivered: false,
      refused: true,
      attempts: 0,
      lastStatus: null,
      error: refused.error,
    });
    // A notification of the wrong shape is not passed through.
    const odd = toCompactStatus(
      status({ customStatus: { ...monitoring, notification: { delivered: 'yes' } } }),
    );
    expect(odd.notification).toBeNull();
  });

  it('encodes blob names in URLs segment by segment', () => {
    const output: MatchResult = { ...succeeded, outputs: { summary: 'my folder/a b.summary.json' } };
    const view = toCompactStatus(status({ runtimeStatus: 'Completed', output }), {
      outputBaseUrl: 'https://x/outbox/',
    });
    expect(view.outputs.summary?.url).toBe('https://x/outbox/my%20folder/a%20b.summary.json');
  });

  it('reports a GEM failure as an error with GEM message, though the orchestration completed', () => {
    const output: MatchResult = {
      ...succeeded,
      outcome: 'gem-failed',
      gemStatus: 'FAILED',
      statistics: null,
      outputs: { error: 'roads/a.error.json' },
      message: 'Column geometry is missing',
    };
    const view = toCompactStatus(status({ runtimeStatus: 'Completed', output }));
    expect(view).toMatchObject({
      phase: 'gem-failed',
      outcome: 'gem-failed',
      error: { message: 'Column geometry is missing' },
    });
    expect(view.outputs.error).toEqual({ blob: 'roads/a.error.json' });
  });

  it('exposes the message a failed orchestration threw, without the Azure prefixes, Details or stack', () => {
    // A failed instance's output on Azure: OutOfProcOrchestrationShim.cs's Reason around the error the
    // orchestrator threw (here a caught activity failure it rethrew, see azureActivityFailure below).
    const output = `Orchestrator function 'matchFile' failed: ${azureActivityFailure}`;
    const view = toCompactStatus(status({ runtimeStatus: 'Failed', customStatus: monitoring, output }));
    expect(view.phase).toBe('failed');
    expect(view.error?.message).toBe(ACTIVITY_MESSAGE);
    expect(view.estimatedCompletion).toBeNull();
    expect(view.jobId).toBe(123456789);
  });

  it('drops a JavaScript stack a failure text carries', () => {
    const output =
      "Orchestrator function 'matchFile' failed: Job 42 could not be followed: 403 user lacks storage access\n" +
      '    at matchFileOrchestrator (/home/site/wwwroot/dist/functions/matchFile.js:120:11)\n' +
      '    at Generator.next (<anonymous>)';
    const view = toCompactStatus(status({ runtimeStatus: 'Failed', customStatus: monitoring, output }));
    expect(view.error?.message).toBe('Job 42 could not be followed: 403 user lacks storage access');
  });

  it('says a terminated match was cancelled', () => {
    const view = toCompactStatus(
      status({ runtimeStatus: 'Terminated', customStatus: monitoring, output: 'by user' }),
    );
    expect(view.error).toEqual({ message: 'The match was cancelled: by user.' });
    expect(view.phase).toBe('monitoring');
  });
});

describe('failureMessageOf', () => {
  it('reads failure details objects and messages', () => {
    expect(failureMessageOf({ message: 'boom' })).toBe('boom');
    expect(failureMessageOf({ failureDetails: { errorMessage: 'activity failed' } })).toBe('activity failed');
  });

  it('explains an empty failure instead of returning nothing', () => {
    expect(failureMessageOf(null)).toMatch(/without a message/);
  });

  it('cuts very long messages', () => {
    const message = failureMessageOf('x'.repeat(5000));
    expect(message.length).toBe(2001);
    expect(message.endsWith('…')).toBe(true);
  });
});

/**
 * Literal failure texts in the format Azure stores, from the sources of each hop: the Node worker reports
 * `{message: error.message, stackTrace: error.stack}` (azure-functions-nodejs-worker src/setupEventStream.ts);
 * the host wraps it as `Result: Failure\nException: <message>\nStack: <stack>` (azure-functions-host
 * src/WebJobs.Script/Workers/Rpc/RpcException.cs); the Durable extension's TaskActivityShim.cs cuts the message
 * out again (OutOfProcExceptionHelpers.TryGetExceptionWithFriendlyMessage, keeping the space after the label),
 * makes it the Reason `Activity function '<name>' failed: <message>` and serialises the .NET exception, with the
 * RpcException inside, as Details (the shape a TaskFailed recorded on Azure shows,
 * Azure/azure-functions-durable-extension#3049); durable-functions 3.5.0 throws `new Error(`${Reason} \n
 * ${Details}`)` into the orchestrator (TaskOrchestrationExecutor.setTaskValue).
 */
const ACTIVITY_MESSAGE =
  'PDG credentials refused (HTTP 403): the API key lacks the Orbis Private Data Gateway API product';
const ACTIVITY_STACK =
  `ResourceAccessDeniedError: ${ACTIVITY_MESSAGE}\\n` +
  '    at send (/home/site/wwwroot/dist/shared/tomtom/client.js:102:19)\\n' +
  '    at async stageInput (/home/site/wwwroot/dist/shared/activities/match.js:88:5)';
const azureActivityDetails =
  '{"$type":"System.Exception, System.Private.CoreLib","ClassName":"System.Exception",' +
  `"Message":" ${ACTIVITY_MESSAGE}","Data":null,"InnerException":{"$type":` +
  '"Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",' +
  `"IsUserException":false,"RemoteStackTrace":"${ACTIVITY_STACK}","RemoteMessage":"${ACTIVITY_MESSAGE}",` +
  `"RemoteTypeName":null,"Message":"Result: Failure\\nException: ${ACTIVITY_MESSAGE}\\nStack: ${ACTIVITY_STACK}",` +
  '"Data":{},"InnerException":null,"HelpLink":null,"Source":null,"HResult":-2146233088,"StackTrace":null},' +
  '"HelpURL":null,"StackTraceString":null,"RemoteStackTraceString":null,"RemoteStackIndex":0,' +
  '"ExceptionMethod":null,"HResult":-2146233088,"Source":null,"WatsonBuckets":null}';
const azureActivityFailure = `Activity function 'stageInput' failed:  ${ACTIVITY_MESSAGE} \n ${azureActivityDetails}`;

describe('caughtFailureMessage', () => {
  it('reads the own message of an activity failure in the format Azure stores', () => {
    expect(JSON.parse(azureActivityDetails).InnerException.Message).toMatch(
      /^Result: Failure\nException: PDG/,
    );
    expect(caughtFailureMessage(new Error(azureActivityFailure))).toBe(ACTIVITY_MESSAGE);
    expect(caughtFailureMessage(new Error(azureActivityFailure))).not.toMatch(
      /Result: Failure|client\.js|\$type/,
    );
  });

  it('keeps every line of a multi-line message, joined, and nothing of the Details', () => {
    // A message with a newline stays whole in Reason (the friendly message runs up to "\nStack:").
    const message = 'Row 3: id is missing\nRow 9: geometry is not a LINESTRING';
    const caught = `Activity function 'validateInput' failed:  ${message} \n {"$type":"System.Exception, System.Private.CoreLib"}`;
    expect(caughtFailureMessage(new Error(caught))).toBe(
      'Row 3: id is missing Row 9: geometry is not a LINESTRING',
    );
  });

  it('reads a failed sub-orchestration, whose Details are the extension\'s "Message: …, StackTrace: …"', () => {
    // Reason: OutOfProcOrchestrationShim.cs ScheduleDurableTaskEvents; Details: its exceptionDetails, passed on
    // by DTFx TaskOrchestrationDispatcher as the parent's SubOrchestrationInstanceFailed.
    const caught =
      "Orchestrator function 'stagePart' failed: Part 2 has no rows \n Message: Part 2 has no rows, StackTrace:    at " +
      'Microsoft.Azure.WebJobs.Extensions.DurableTask.TaskOrchestrationShim.InvokeUserCodeAndHandleResults()';
    expect(caughtFailureMessage(new Error(caught))).toBe('Part 2 has no rows');
    // A child that rethrew an activity failure nests both prefixes and both Details.
    const nested = `Orchestrator function 'stagePart' failed: ${azureActivityFailure} \n Message: ${azureActivityFailure}, StackTrace: `;
    expect(caughtFailureMessage(new Error(nested))).toBe(ACTIVITY_MESSAGE);
  });

  it('keeps what the Functions host hid as it is: the sanitised message is what Azure has', () => {
    // Sanitizer.cs replaces from a credential token to the next quote: the rest of the message is gone on Azure.
    const caught = `Activity function 'deliverResults' failed:  Upload to https://acct.blob.core.windows.net/outbox/a?sv=2024[Hidden Credential] \n ${azureActivityDetails}`;
    expect(caughtFailureMessage(new Error(caught))).toBe(
      'Upload to https://acct.blob.core.windows.net/outbox/a?sv=2024[Hidden Credential]',
    );
  });

  it('reads FailureDetails when durable-functions throws a TaskFailedError', () => {
    // durable-functions 3.5.0 src/error/TaskFailedError.ts: message `${errorType}: ${errorMessage}`.
    const error = Object.assign(new Error(`Error: ${ACTIVITY_MESSAGE}`), {
      failureDetails: { errorType: 'Error', errorMessage: ACTIVITY_MESSAGE },
    });
    expect(caughtFailureMessage(error)).toBe(ACTIVITY_MESSAGE);
  });

  it('keeps a message of the orchestrator\'s own as it is, a line starting with "at" included', () => {
    expect(caughtFailureMessage(new Error('Job 7 could not be followed: not found'))).toBe(
      'Job 7 could not be followed: not found',
    );
    expect(caughtFailureMessage(new Error('The file is too small\nat least 3 rows are needed'))).toBe(
      'The file is too small at least 3 rows are needed',
    );
    expect(caughtFailureMessage(new Error(''))).toMatch(/without a message/);
  });
});
