/**
 * Failure texts exactly as Azure stores them, so an orchestrator that catches a failure (and the app that shows
 * it) sees locally what it will see in production. An activity's exception travels: Node worker (message and
 * stack) → Functions host (`RpcException`, message sanitised) → Durable extension (`TaskActivityShim`: Reason with
 * the "friendly" message cut out of the RpcException text, Details the serialised .NET exception) → TaskFailed in
 * history → durable-functions, which rebuilds `new Error(`${Reason} \n ${Details}`)`. A failed orchestrator's
 * Reason and Details come from the extension's `OutOfProcOrchestrationShim`. Each step cites its source.
 */

/** What the Node worker reports for a thrown value (azure-functions-nodejs-worker src/errors.ts ensureErrorType,
 * src/setupEventStream.ts: `exception: { message: error.message, stackTrace: error.stack }`). */
export function workerException(thrown: unknown): { message: string; stack: string } {
  if (thrown instanceof Error) return { message: String(thrown.message), stack: thrown.stack ?? '' };
  let message: string;
  if (thrown === undefined || thrown === null) message = 'Unknown error';
  else if (typeof thrown === 'string') message = thrown;
  else if (typeof thrown === 'object') message = safeJson(thrown);
  else message = String(thrown);
  // The worker wraps it in a new Error, whose stack is the worker's own; here it is the local host's.
  return { message, stack: new Error(message).stack ?? '' };
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ------------------------------------------------------------------ the Functions host

/** azure-functions-host src/WebJobs.Script/Sanitizer.cs (the string overload), applied to RpcException messages. */
const SECRET_REPLACEMENT = '[Hidden Credential]';
const ALLOWED_TOKENS = ['PublicKeyToken='];
const CREDENTIAL_TOKENS = [
  'Token=',
  'DefaultEndpointsProtocol=http',
  'AccountKey=',
  'Data Source=',
  'Server=',
  'Password=',
  'pwd=',
  '&amp;sig=',
  '&sig=',
  '?sig=',
  'SharedAccessKey=',
  '&amp;code=',
  '&code=',
  '?code=',
  'key=',
];
const VALUE_TERMINATORS = /["'<]/;
/** "<protocol>://<user>:<password>@<address>:<port>" */
const URL_WITH_PASSWORD = /\b([a-zA-Z]+):\/\/([^:/\s]+):([^@/\s]+)@([^:/\s]+):([0-9]+)\b/gi;

export function sanitize(input: string): string {
  if (!input) return '';
  if (!input.includes('=') && !input.includes(':')) return input;
  let text = input;
  let searched = input;
  for (const allowed of ALLOWED_TOKENS) searched = searched.split(allowed).join('#'.repeat(allowed.length));
  for (const token of CREDENTIAL_TOKENS) {
    for (let start = indexOfIgnoreCase(searched, token, 0); start !== -1; ) {
      // The secret runs from the token to the next quote or tag opening, or to the end of the text.
      const found = text.slice(start).search(VALUE_TERMINATORS);
      const end = found === -1 ? -1 : start + found;
      text = text.slice(0, start) + SECRET_REPLACEMENT + (end === -1 ? '' : text.slice(end));
      searched = searched.slice(0, start) + SECRET_REPLACEMENT + (end === -1 ? '' : searched.slice(end));
      start = indexOfIgnoreCase(searched, token, start);
    }
  }
  return input.includes(':') ? text.replace(URL_WITH_PASSWORD, SECRET_REPLACEMENT) : text;
}

/** `IndexOf(token, from, StringComparison.OrdinalIgnoreCase)` for the ASCII tokens above. */
function indexOfIgnoreCase(haystack: string, token: string, from: number): number {
  const pattern = new RegExp(token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
  pattern.lastIndex = from;
  return pattern.exec(haystack)?.index ?? -1;
}

/** The host's RpcException message (src/WebJobs.Script/Workers/Rpc/RpcException.cs; result from
 * MessageExtensions/StatusResultExtensions.cs GetRpcException: the status name, "Failure"). */
export function rpcExceptionMessage(message: string, stack: string): string {
  return `Result: Failure\nException: ${sanitize(message)}\nStack: ${stack}`;
}

// ------------------------------------------------------------------ the Durable extension

const MESSAGE_LABEL = '\nException:';
const STACK_LABEL = '\nStack:';
const OUT_OF_PROC_DATA_LABEL = '\n\n$OutOfProcData$:';

/**
 * The "friendly" message the extension cuts out of an RpcException (OutOfProcExceptionHelpers.cs
 * TryGetExceptionWithFriendlyMessage): everything between "\nException:" and the first "\nStack:", so it keeps
 * the space that follows the label.
 */
export function friendlyMessage(rpcMessage: string): string {
  const start = rpcMessage.indexOf(MESSAGE_LABEL) + MESSAGE_LABEL.length;
  const text = rpcMessage.slice(start, rpcMessage.indexOf(STACK_LABEL));
  const data = text.indexOf(OUT_OF_PROC_DATA_LABEL);
  return data === -1 ? text : text.slice(0, data);
}

/** The HResult .NET gives System.Exception (COR_E_EXCEPTION). */
const COR_E_EXCEPTION = -2146233088;

/**
 * `Utils.SerializeCause(new Exception(friendly, rpcException), ErrorDataConverter)` (TaskActivityShim.cs; the
 * converter's settings in ErrorSerializerSettingsFactory.cs: TypeNameHandling.Objects, TargetSite left out). The
 * outer exception serialises through ISerializable, the RpcException through its public properties, as a
 * TaskFailed Details stored on Azure shows. Fields only .NET can fill (the host's own stack, Source) are null.
 */
function serializedActivityCause(
  friendly: string,
  rpcMessage: string,
  message: string,
  stack: string,
): string {
  return JSON.stringify({
    $type: 'System.Exception, System.Private.CoreLib',
    ClassName: 'System.Exception',
    Message: friendly,
    Data: null,
    InnerException: {
      $type: 'Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script',
      IsUserException: false,
      RemoteStackTrace: stack,
      RemoteMessage: sanitize(message),
      RemoteTypeName: null,
      Message: rpcMessage,
      Data: { $type: 'System.Collections.ListDictionaryInternal, System.Private.CoreLib' },
      InnerException: null,
      HelpLink: null,
      Source: null,
      HResult: COR_E_EXCEPTION,
      StackTrace: null,
    },
    HelpURL: null,
    StackTraceString: null,
    RemoteStackTraceString: null,
    RemoteStackIndex: 0,
    ExceptionMethod: null,
    HResult: COR_E_EXCEPTION,
    Source: null,
    WatsonBuckets: null,
  });
}

/**
 * TaskFailed's Reason and Details for an activity that threw (TaskActivityShim.cs RunAsync, UserCodeError):
 * `Activity function '<name>' failed: <friendly message>` — two spaces after the colon, because the friendly
 * message keeps the one after "Exception:".
 */
export function activityFailure(name: string, thrown: unknown): { Reason: string; Details: string } {
  const { message, stack } = workerException(thrown);
  const rpcMessage = rpcExceptionMessage(message, stack);
  const friendly = friendlyMessage(rpcMessage);
  return {
    Reason: `Activity function '${name}' failed: ${friendly}`,
    Details: serializedActivityCause(friendly, rpcMessage, message, stack),
  };
}

/**
 * A failed orchestrator, from the state durable-functions returns after `$OutOfProcData$:`
 * (OutOfProcOrchestrationShim.cs ScheduleDurableTaskEvents): the Reason becomes the instance's output and a
 * parent's SubOrchestrationInstanceFailed Reason; the Details go to the parent only. The StackTrace in Details
 * is the .NET stack of the exception the extension's TaskOrchestrationShim caught (durable-functions reports no
 * JavaScript stack for it), which only .NET can write: the local host leaves it empty.
 */
export function orchestratorFailure(name: string, error: string): { Reason: string; Details: string } {
  return {
    Reason: `Orchestrator function '${name}' failed: ${error}`,
    Details: `Message: ${error}, StackTrace: `,
  };
}
