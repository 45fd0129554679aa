/**
 * The local stack as a target, from the `stack.json` that `npm start` writes once everything is ready (the
 * README's contract: functionsBaseUrl, functionKey, storageConnectionString, inbox/outbox containers, caFile,
 * and the clock's timeScale / epochMs / virtualEpochMs). Azurite serves HTTPS with the stack's own CA, so the
 * CA bundle is added to this process's default trust store (what `curl --cacert` / NODE_EXTRA_CA_CERTS do for
 * other clients). The file is read with a schema, so a stack.json from a stack still starting, or from another
 * version, is reported for what it lacks instead of failing later on an undefined URL.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { BlobServiceClient } from '@azure/storage-blob';
import { z } from 'zod';
import { AppClient } from './appClient.js';
import { CliError, EXIT } from './errors.js';
import type { ExplicitKey, Target, TargetClock, TargetContext } from './target.js';

export interface LocalTargetOptions {
  /** The stack.json to use (`--stack`); else GEMFLOW_STACK, GEMFLOW_LOCAL_DIR/stack.json, <repo>/.local/stack.json. */
  stack?: string;
}

const stackFileSchema = z.object({
  functionsBaseUrl: z.url().optional(),
  functionKey: z.string().min(1).optional(),
  storageConnectionString: z.string().min(1),
  inboxContainer: z.string().min(1),
  outboxContainer: z.string().min(1),
  caFile: z.string().min(1),
  timeScale: z.number().positive().default(1),
  epochMs: z.number().optional(),
  virtualEpochMs: z.number().optional(),
});

export type StackFile = z.output<typeof stackFileSchema>;

/** The repository this CLI belongs to: the nearest folder above it with gem-flow's package.json. */
export function projectRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && /"name":\s*"gem-flow"/.test(readFileSync(manifest, 'utf8'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '..', '..');
  }
}

export function stackFilePath(options: LocalTargetOptions, env: NodeJS.ProcessEnv, cwd: string): string {
  if (options.stack) return resolve(cwd, options.stack);
  if (env.GEMFLOW_STACK) return resolve(cwd, env.GEMFLOW_STACK);
  if (env.GEMFLOW_LOCAL_DIR) return resolve(cwd, env.GEMFLOW_LOCAL_DIR, 'stack.json');
  return join(projectRoot(), '.local', 'stack.json');
}

const START_REMEDY =
  'Start the local stack with `npm start` in the gem-flow repository and wait for its ready line, point ' +
  '--stack (or GEMFLOW_STACK) at the stack.json of the stack you mean, or use --azd for a deployment on Azure.';

export function readStackFile(file: string): StackFile {
  if (!existsSync(file)) {
    throw new CliError('StackNotFound', EXIT.connection, `No local stack is described at ${file}.`, {
      remedy: START_REMEDY,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new CliError('StackFileUnreadable', EXIT.connection, `${file} is not JSON.`, {
      cause,
      remedy: 'Stop the stack, delete the file and run `npm start` again.',
    });
  }
  const parsed = stackFileSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(file)').join(', ');
    throw new CliError('StackFileInvalid', EXIT.connection, `${file} lacks or has malformed: ${fields}.`, {
      remedy: 'It may be from another gem-flow version: stop the stack and run `npm start` again.',
    });
  }
  return parsed.data;
}

/**
 * Trusts every certificate of a PEM bundle for this process's later TLS connections (Node >= 22.15; the
 * project's Node 22, which `npx gem-flow` runs on, has it). Idempotent.
 */
export function trustCaBundle(bundlePem: string): void {
  if (typeof tls.setDefaultCACertificates !== 'function') {
    throw new CliError(
      'NodeTooOld',
      EXIT.connection,
      `Node ${process.versions.node} cannot add the local stack's CA to its trust store.`,
      { remedy: 'Run the CLI as `npx gem-flow …` in the repository, which uses the project Node 22.' },
    );
  }
  const certificates = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const current = tls.getCACertificates('default');
  const known = new Set(current.map((pem) => pem.replace(/\s+/g, '')));
  const added = certificates.filter((pem) => !known.has(pem.replace(/\s+/g, '')));
  if (added.length > 0) tls.setDefaultCACertificates([...current, ...added]);
}

/** The stack's virtual clock (local/host/clock.ts: now = virtualEpochMs + (Date.now() - epochMs) × scale). */
export function stackClock(stack: Pick<StackFile, 'timeScale' | 'epochMs' | 'virtualEpochMs'>): TargetClock {
  const scale = stack.timeScale;
  const epochMs = stack.epochMs;
  if (epochMs === undefined) return { now: () => Date.now(), scale };
  const virtualEpochMs = stack.virtualEpochMs ?? epochMs;
  return { now: () => virtualEpochMs + (Date.now() - epochMs) * scale, scale };
}

export async function resolveLocalTarget(
  options: LocalTargetOptions,
  explicitKey: ExplicitKey | undefined,
  context: TargetContext,
): Promise<Target> {
  const file = stackFilePath(options, context.env, context.cwd);
  const stack = readStackFile(file);
  if (!stack.functionsBaseUrl || !stack.functionKey) {
    throw new CliError(
      'StackStarting',
      EXIT.connection,
      `${file} has no functionsBaseUrl or functionKey yet: the stack is still starting, or its Functions host did not start.`,
      {
        remedy: 'Wait for `npm start` to print its ready line (or read its output for why the host stopped).',
      },
    );
  }
  if (!existsSync(stack.caFile)) {
    throw new CliError(
      'StackCaMissing',
      EXIT.connection,
      `The stack's CA bundle ${stack.caFile} is missing.`,
      {
        remedy: START_REMEDY,
      },
    );
  }
  trustCaBundle(readFileSync(stack.caFile, 'utf8'));
  const blobs = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
  const key = explicitKey ?? { key: stack.functionKey, origin: `functionKey in ${file}` };
  const app = new AppClient({
    baseUrl: stack.functionsBaseUrl,
    key: async () => key.key,
    keySource: {
      origin: key.origin,
      remedy: explicitKey
        ? `The local stack's key is functionKey in ${file}: drop ${explicitKey.origin} to use it.`
        : `npm start writes the running host's key to ${file}; if that file is from an earlier run, restart \`npm start\`.`,
    },
    unreachableRemedy: START_REMEDY,
    ...(context.fetch ? { fetch: context.fetch } : {}),
  });
  return {
    kind: 'local',
    description: `the local stack at ${stack.functionsBaseUrl} (${file})`,
    app,
    inbox: blobs.getContainerClient(stack.inboxContainer),
    outbox: blobs.getContainerClient(stack.outboxContainer),
    clock: stackClock(stack),
    unreachableRemedy: START_REMEDY,
  };
}
