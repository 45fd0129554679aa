// The failure texts of the local engine against their sources: the Node worker (src/errors.ts ensureErrorType),
// the Functions host (src/WebJobs.Script/Sanitizer.cs, Workers/Rpc/RpcException.cs) and the Durable extension
// (OutOfProcExceptionHelpers.cs, Listener/TaskActivityShim.cs, Listener/OutOfProcOrchestrationShim.cs).
import { describe, expect, it } from 'vitest';
import {
  activityFailure,
  friendlyMessage,
  orchestratorFailure,
  rpcExceptionMessage,
  sanitize,
  workerException,
} from '../../../local/host/durable/failures.js';

describe('Sanitizer.Sanitize', () => {
  it('leaves text without "=" or ":" alone', () => {
    expect(sanitize('nothing to hide here')).toBe('nothing to hide here');
    expect(sanitize('')).toBe('');
  });

  it('hides from a credential token to the next quote or "<", or to the end', () => {
    expect(sanitize('GET https://h/x?code=abc123 failed')).toBe('GET https://h/x[Hidden Credential]');
    expect(sanitize('conn "AccountKey=abc==;EndpointSuffix=x" refused')).toBe(
      'conn "[Hidden Credential]" refused',
    );
    expect(sanitize('<b>Password=hunter2</b>')).toBe('<b>[Hidden Credential]</b>');
    // Case-insensitive, and "key=" inside other words counts too.
    expect(sanitize("bad apikey='x' given")).toBe("bad api[Hidden Credential]'x' given");
  });

  it('keeps PublicKeyToken= and hides user:password@host:port URLs', () => {
    expect(sanitize('System.Text, PublicKeyToken=cc7b13ffcd2ddd51')).toBe(
      'System.Text, PublicKeyToken=cc7b13ffcd2ddd51',
    );
    expect(sanitize('connect amqp://user:secret@broker:5672 failed')).toBe(
      'connect [Hidden Credential] failed',
    );
  });
});

describe('an activity failure', () => {
  it('is reported by the worker with the message and stack, a non-Error wrapped as the worker does', () => {
    const error = new Error('boom');
    expect(workerException(error)).toEqual({ message: 'boom', stack: error.stack });
    expect(workerException('plain').message).toBe('plain');
    expect(workerException({ code: 7 }).message).toBe('{"code":7}');
    expect(workerException(undefined).message).toBe('Unknown error');
  });

  it('becomes the host’s RpcException text, from which the extension cuts the friendly message', () => {
    const text = rpcExceptionMessage('boom', 'Error: boom\n    at x (/app/a.js:1:1)');
    expect(text).toBe('Result: Failure\nException: boom\nStack: Error: boom\n    at x (/app/a.js:1:1)');
    expect(friendlyMessage(text)).toBe(' boom');
    // A multi-line message stays whole: the cut ends at the first "\nStack:".
    expect(friendlyMessage(rpcExceptionMessage('one\ntwo', 'Error: one\ntwo'))).toBe(' one\ntwo');
  });

  it('is stored as TaskFailed Reason (two spaces) and Details (the serialised exception)', () => {
    const { Reason, Details } = activityFailure('stageInput', new Error('refused'));
    expect(Reason).toBe("Activity function 'stageInput' failed:  refused");
    const details = JSON.parse(Details);
    expect(details.Message).toBe(' refused');
    expect(details.InnerException.Message).toMatch(
      /^Result: Failure\nException: refused\nStack: Error: refused\n/,
    );
    expect(Details).not.toContain('\n'); // one JSON line, as Newtonsoft writes it
  });
});

describe('an orchestrator failure', () => {
  it('has the shim’s Reason and "Message: …, StackTrace: …" Details', () => {
    expect(orchestratorFailure('matchFile', 'no input')).toEqual({
      Reason: "Orchestrator function 'matchFile' failed: no input",
      Details: 'Message: no input, StackTrace: ',
    });
  });
});
