/**
 * The `@azure/functions-core` module as the Node worker serves it, plus invocation through the library's own
 * `InvocationModel` (getArguments → invokeFunction → getResponse), exactly the worker's InvocationHandler
 * sequence minus gRPC. The host is generic: it knows Azure Functions, not the app it loads.
 */
import { randomUUID } from 'node:crypto';
import Module from 'node:module';

/** The worker's RpcTypedData, reduced to the members the library reads and writes. */
export interface RpcTypedData {
  string?: string;
  json?: string;
  bytes?: Uint8Array;
  stream?: Uint8Array;
  http?: RpcHttpData;
  int?: number | string;
  double?: number;
  collectionString?: { string: string[] };
}

export interface RpcHttpData {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: RpcTypedData;
  statusCode?: string;
  cookies?: unknown[];
  enableContentNegotiation?: boolean;
}

export interface BindingMetadata {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name: string;
  [setting: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
  retryOptions?: unknown;
}

export interface Registration {
  metadata: FunctionMetadata;
  // The user-level callback (handler or durable's wrapper); the InvocationModel decides how to call it.
  callback: (...args: unknown[]) => unknown;
}

type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate';
type HookCallback = (context: Record<string, unknown>) => unknown;

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: Registration['callback']): Promise<unknown>;
  getResponse(
    context: unknown,
    result: unknown,
  ): Promise<{ returnValue?: RpcTypedData; outputData?: { name: string; data: RpcTypedData }[] }>;
}

interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: unknown): InvocationModel | Promise<InvocationModel>;
}

class Disposable {
  #onDispose: (() => void) | undefined;
  constructor(onDispose?: () => void) {
    this.#onDispose = onDispose;
  }
  dispose(): void {
    this.#onDispose?.();
    this.#onDispose = undefined;
  }
}

export interface CoreState {
  registrations: Map<string, Registration>;
  hooks: Record<HookName, HookCallback[]>;
  programmingModel: ProgrammingModel | undefined;
  appHookData: Record<string, unknown>;
}

export const coreState: CoreState = {
  registrations: new Map(),
  hooks: { preInvocation: [], postInvocation: [], appStart: [], appTerminate: [] },
  programmingModel: undefined,
  appHookData: {},
};

/** Where the library's own system log lines go (workerSystemLog); replaceable by the host. */
let systemLog: (level: string, category: string, message: string) => void = (level, category, message) => {
  if (level !== 'debug' && level !== 'trace') console.log(`[core ${level}/${category}] ${message}`);
};

export function setSystemLog(sink: typeof systemLog): void {
  systemLog = sink;
}

const coreApi = {
  version: '4.0.0-gem-flow-local',
  hostVersion: '4.0.0-gem-flow-local',
  setProgrammingModel(model: ProgrammingModel): void {
    coreState.programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return coreState.programmingModel;
  },
  registerFunction(metadata: FunctionMetadata, callback: Registration['callback']): Disposable {
    if (coreState.registrations.has(metadata.name)) {
      throw new Error(
        `A function named "${metadata.name}" is already registered; function names must be unique.`,
      );
    }
    coreState.registrations.set(metadata.name, { metadata, callback });
    return new Disposable(() => coreState.registrations.delete(metadata.name));
  },
  registerHook(name: HookName, callback: HookCallback): Disposable {
    const list = coreState.hooks[name];
    if (!list) throw new Error(`Unknown hook "${name}"`);
    list.push(callback);
    return new Disposable(() => {
      coreState.hooks[name] = coreState.hooks[name].filter((c) => c !== callback);
    });
  },
  log(level: string, category: string, message: string): void {
    systemLog(level, category, message);
  },
  Disposable,
};

let installed = false;

/**
 * Serves `@azure/functions-core` the way the worker does (a Proxy on Module.prototype.require). Must run before
 * the app's first `app.*` call; the library resolves the core module lazily, so before loading the entry is enough.
 */
export function installCoreShim(): void {
  if (installed) return;
  installed = true;
  const proto = (Module as unknown as { prototype: { require: (id: string) => unknown } }).prototype;
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: [string]) {
      if (args[0] === '@azure/functions-core') return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
}

/** Binding names are generated hashes, so bindings are always found by type. */
export function triggerBinding(registration: Registration): BindingMetadata {
  const found = Object.values(registration.metadata.bindings).find((b) => /trigger$/i.test(b.type));
  if (!found) throw new Error(`Function "${registration.metadata.name}" has no trigger binding`);
  return found;
}

export function bindingsOfType(registration: Registration, type: string): BindingMetadata[] {
  return Object.values(registration.metadata.bindings).filter(
    (b) => b.type.toLowerCase() === type.toLowerCase(),
  );
}

/** Supplies the data of a non-trigger input binding (e.g. the durableClient binding JSON) at invocation time. */
export type InputProvider = (binding: BindingMetadata, functionName: string) => RpcTypedData | undefined;

const inputProviders = new Map<string, InputProvider>();

export function setInputProvider(bindingType: string, provider: InputProvider): void {
  inputProviders.set(bindingType.toLowerCase(), provider);
}

export interface InvocationLogLine {
  functionName: string;
  invocationId: string;
  level: string;
  category: string;
  message: string;
}

export interface InvocationResult {
  invocationId: string;
  returnValue?: RpcTypedData;
  outputData: { name: string; data: RpcTypedData }[];
  /** What the user callback returned, before conversion (e.g. an HttpResponse). */
  rawResult?: unknown;
  error?: unknown;
}

export interface InvokeOptions {
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number };
  log?: (line: InvocationLogLine) => void;
}

/** Mirrors the worker's InvocationHandler minus gRPC: model, hooks, call, response. */
export async function invokeFunction(
  functionName: string,
  triggerData: RpcTypedData,
  options: InvokeOptions = {},
): Promise<InvocationResult> {
  const registration = coreState.registrations.get(functionName);
  if (!registration) throw new Error(`Function "${functionName}" is not registered`);
  const model = coreState.programmingModel;
  if (!model) throw new Error('No programming model was set; did the app load @azure/functions?');

  const trigger = triggerBinding(registration);
  const inputData: { name: string; data: RpcTypedData }[] = [{ name: trigger.name, data: triggerData }];
  for (const binding of Object.values(registration.metadata.bindings)) {
    if (binding === trigger || binding.direction !== 'in') continue;
    const data = inputProviders.get(binding.type.toLowerCase())?.(binding, functionName);
    if (data) inputData.push({ name: binding.name, data });
  }

  const invocationId = randomUUID();
  const log = options.log ?? defaultInvocationLog;
  const coreContext: Record<string, unknown> = {
    invocationId,
    metadata: registration.metadata,
    state: undefined,
    request: {
      invocationId,
      functionId: functionName,
      inputData,
      triggerMetadata: options.triggerMetadata ?? {},
      retryContext: options.retryContext,
    },
    log(level: string, category: string, message: string) {
      log({ functionName, invocationId, level, category, message });
    },
  };

  try {
    return await runInvocation(model, registration, coreContext, invocationId);
  } catch (error) {
    // As the worker's InvocationHandler: a failure in the model, a hook or the response conversion (e.g. a
    // circular return value) is a failed invocation, never an exception the caller may forget to handle.
    return { invocationId, outputData: [], error };
  }
}

async function runInvocation(
  model: ProgrammingModel,
  registration: Registration,
  coreContext: Record<string, unknown>,
  invocationId: string,
): Promise<InvocationResult> {
  const invocationModel = await model.getInvocationModel(coreContext);
  const hookData: Record<string, unknown> = {};
  const args = await invocationModel.getArguments();
  const pre: Record<string, unknown> = {
    hookData,
    appHookData: coreState.appHookData,
    invocationContext: args.context,
    functionCallback: registration.callback,
    inputs: args.inputs,
  };
  coreContext.state = 'preInvocationHooks';
  for (const hook of coreState.hooks.preInvocation) await hook(pre);
  coreContext.state = undefined;

  const post: Record<string, unknown> = {
    hookData,
    appHookData: coreState.appHookData,
    invocationContext: args.context,
    inputs: pre.inputs,
    result: null,
    error: null,
  };
  coreContext.state = 'invocation';
  try {
    post.result = await invocationModel.invokeFunction(
      args.context,
      pre.inputs as unknown[],
      pre.functionCallback as Registration['callback'],
    );
  } catch (error) {
    post.error = error;
  } finally {
    coreContext.state = undefined;
  }
  coreContext.state = 'postInvocationHooks';
  for (const hook of coreState.hooks.postInvocation) await hook(post);
  coreContext.state = undefined;

  if (post.error) return { invocationId, outputData: [], error: post.error };
  const response = await invocationModel.getResponse(args.context, post.result);
  return {
    invocationId,
    returnValue: response.returnValue,
    outputData: response.outputData ?? [],
    rawResult: post.result,
  };
}

function defaultInvocationLog(line: InvocationLogLine): void {
  console.log(`[${line.functionName}] ${line.level}: ${line.message}`);
}

/** Runs the app-level hooks (appStart on load, appTerminate on shutdown) the way the worker does. */
export async function runAppHooks(name: 'appStart' | 'appTerminate'): Promise<void> {
  const context = { hookData: coreState.appHookData, appHookData: coreState.appHookData };
  for (const hook of coreState.hooks[name]) await hook(context);
}

/** How the Functions host turns returned RpcTypedData into a .NET value before Durable serializes it. */
export function hostValue(data: RpcTypedData | null | undefined): unknown {
  if (!data) return null;
  if (data.string !== undefined) return data.string; // no JSON sniffing, as in the host
  if (data.json !== undefined) return JSON.parse(data.json);
  if (data.int !== undefined) return Number(data.int);
  if (data.double !== undefined) return data.double;
  if (data.bytes !== undefined) return Buffer.from(data.bytes).toString('base64');
  return null;
}
