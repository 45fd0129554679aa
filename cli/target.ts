/**
 * Where a command goes: the running local stack (the default, described by `.local/stack.json`) or a deployment
 * on Azure. A target is the app's HTTP API with its function key, the inbox and outbox containers, and the clock
 * the app's timestamps are written in (the local stack may run compressed time, so an ETA in its timestamps is
 * converted back to real seconds). How each is found is in localStack.ts and azure.ts; both say where the
 * function key came from, so a refused key can be named without printing it.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { AppClient } from './appClient.js';
import { type AzureTargetOptions, resolveAzureTarget } from './azure.js';
import type { CommandRunner } from './commandRunner.js';
import { type LocalTargetOptions, resolveLocalTarget } from './localStack.js';

/** The clock the app's timestamps are in: virtual milliseconds now, and virtual ms per real ms. */
export interface TargetClock {
  now(): number;
  scale: number;
}

/** Where the function key came from and how to get the right one: what a 401 message says. */
export interface KeySource {
  /** e.g. `functionKey in /repo/.local/stack.json`, `--key`, `az functionapp keys list`. Never the key. */
  origin: string;
  /** What to do when the app refuses it. */
  remedy: string;
}

export interface Target {
  kind: 'local' | 'azure';
  /** One line naming the target, e.g. `the local stack at http://localhost:7072 (.local/stack.json)`. */
  description: string;
  app: AppClient;
  inbox: ContainerClient;
  outbox: ContainerClient;
  clock: TargetClock;
  /** What to do when the app or storage does not answer at all. */
  unreachableRemedy: string;
}

export interface TargetOptions extends LocalTargetOptions, AzureTargetOptions {
  /** An explicit function key (`--key`); else GEMFLOW_FUNCTION_KEY, else the target's own source. */
  key?: string;
}

export interface TargetContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  run: CommandRunner;
  fetch?: typeof fetch;
}

/** Azure when an app URL or the azd environment is asked for; the local stack otherwise. */
export function wantsAzure(options: TargetOptions, env: NodeJS.ProcessEnv): boolean {
  return Boolean(options.azd || options.appUrl || env.GEMFLOW_APP_URL);
}

export async function resolveTarget(options: TargetOptions, context: TargetContext): Promise<Target> {
  const explicitKey = explicitFunctionKey(options, context.env);
  return wantsAzure(options, context.env)
    ? resolveAzureTarget(options, explicitKey, context)
    : resolveLocalTarget(options, explicitKey, context);
}

export interface ExplicitKey {
  key: string;
  origin: string;
}

export function explicitFunctionKey(options: TargetOptions, env: NodeJS.ProcessEnv): ExplicitKey | undefined {
  if (options.key) return { key: options.key, origin: '--key' };
  if (env.GEMFLOW_FUNCTION_KEY) return { key: env.GEMFLOW_FUNCTION_KEY, origin: 'GEMFLOW_FUNCTION_KEY' };
  return undefined;
}
