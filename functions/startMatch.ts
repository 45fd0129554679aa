/**
 * The one way a match starts, whichever door it came through (blob event, HTTP, sweep): resolve the options,
 * derive the deterministic instance id, and start `matchFile` unless an instance with that id already exists.
 * Event Grid delivers at least once and the sweep may rediscover a blob, so "already exists" is the normal case
 * for duplicates; submitJob's find-or-create covers the remaining race between two simultaneous starts.
 */
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import type { FieldError } from '../shared/api/errors.js';
import type { StartMatchBody } from '../shared/api/schemas.js';
import type { Settings } from '../shared/config.js';
import { isNotFound } from '../shared/errors.js';
import { setMatchAttributes } from '../shared/telemetry/spans.js';
import { isArchived } from '../shared/workflow/archive.js';
import {
  ALLOWED_HOSTS_SETTING,
  type CallbackAllowList,
  isListedCallbackHost,
  parseAllowList,
} from '../shared/workflow/callbackTarget.js';
import { matchInstanceIdForBlob, matchInstanceIdForRequest } from '../shared/workflow/ids.js';
import { monitorPolicyFrom } from '../shared/workflow/monitor.js';
import { outboxLocationFor } from '../shared/workflow/outboxNames.js';
import type { MatchInput } from '../shared/workflow/types.js';
import { startRequestFromMetadata } from '../shared/workflow/uploadOptions.js';
import { MATCH_ORCHESTRATION, type MatchOrchestrationInput } from './matchFile.js';
import { loadConfig, loadSchemas, loadServices } from './onDemand.js';

export type StartOutcome =
  | { kind: 'started'; instanceId: string }
  | { kind: 'existing'; instanceId: string; runtimeStatus: string }
  | { kind: 'rejected'; errors: FieldError[] };

export interface InboxBlobRef {
  container: string;
  name: string;
  etag: string;
  /** Blob metadata; per-file options (UPLOAD_OPTIONS in shared/workflow/uploadOptions.ts). */
  metadata?: Record<string, string>;
}

/**
 * Per-file options travel as blob metadata (lower-case keys, as Azure stores them). `callbackurl` is honoured
 * only for hosts on the callback allow-list (see `metadataCallbackProblem`).
 */
export function bodyFromBlobMetadata(blob: InboxBlobRef): StartMatchBody {
  // Text from metadata is typed as the body's fields here and judged by the schema in resolveStartMatch.
  return startRequestFromMetadata(blob.name, blob.metadata ?? {}) as StartMatchBody;
}

/**
 * Which doors read their options from blob metadata. Anyone who may write to the inbox can set metadata,
 * without the function key, so a callback named there may only go to a host the operator listed.
 */
const OPTIONS_FROM_METADATA: Record<MatchInput['trigger'], boolean> = {
  http: false,
  blob: true,
  sweep: true,
};

export function metadataCallbackProblem(
  body: StartMatchBody,
  trigger: MatchInput['trigger'],
  allowList: CallbackAllowList,
): FieldError | null {
  if (!OPTIONS_FROM_METADATA[trigger] || body.callbackUrl === undefined) return null;
  if (isListedCallbackHost(body.callbackUrl, allowList)) return null;
  return {
    field: 'callbackUrl',
    reason:
      `comes from the blob metadata key callbackurl, which may name only a host listed in ${ALLOWED_HOSTS_SETTING} ` +
      '(anyone who can write to the inbox can set it); remove the key, or start the match with POST /api/matches',
  };
}

export function orchestrationInput(request: MatchInput, settings: Settings): MatchOrchestrationInput {
  const w = settings.workflow;
  // Checked again here: a bad policy would make every orchestration poll in a tight loop.
  const monitor = monitorPolicyFrom({
    initialIntervalSeconds: w.monitorInitialIntervalSeconds,
    maxIntervalSeconds: w.monitorMaxIntervalSeconds,
    backoffFactor: w.monitorBackoffFactor,
    deadlineHours: w.monitorDeadlineHours,
    pollsPerGeneration: w.monitorPollsPerGeneration,
  });
  return {
    request,
    policy: {
      ...monitor,
      segmentsPerHour: w.gemSegmentsPerHour,
      permanentErrorLimit: 3,
      partitioning: {
        maxRoadsPerJob: w.gemMaxRoadsPerJob,
        maxParallelJobs: w.gemMaxParallelJobs,
        partAttempts: w.gemPartAttempts,
      },
    },
  };
}

export async function startMatch(
  client: DurableClient,
  body: StartMatchBody,
  options: { trigger: MatchInput['trigger']; requestedAt: Date; inboxEtag?: string },
): Promise<StartOutcome> {
  const [{ getSettings }, { resolveStartMatch, formatOptionsRegistryProblems }] = await Promise.all([
    loadConfig(),
    loadSchemas(),
  ]);
  const settings = getSettings();
  const { allowList } = parseAllowList(settings.notify.allowedHosts);
  const fromMetadata = metadataCallbackProblem(body, options.trigger, allowList);
  if (fromMetadata) return { kind: 'rejected', errors: [fromMetadata] };
  const resolved = resolveStartMatch(body, {
    storageId: settings.workflow.defaultStorageId,
    jobType: settings.workflow.defaultJobType,
    overtureRelease: settings.workflow.defaultOvertureRelease,
    orbisVersion: settings.workflow.defaultOrbisVersion,
    ...(settings.workflow.defaultOutputFormat ? { outputFormat: settings.workflow.defaultOutputFormat } : {}),
    inboxContainer: settings.storage.inboxContainer,
    callbackAllowList: allowList,
    incremental: settings.workflow.incremental,
  });
  if (!resolved.ok) return { kind: 'rejected', errors: resolved.errors };
  const crsProblems = await formatOptionsRegistryProblems(resolved.value.format);
  if (crsProblems.length > 0) return { kind: 'rejected', errors: crsProblems };

  const spec = resolved.value;
  const source: MatchInput['source'] =
    spec.source.kind === 'inbox'
      ? { ...spec.source, ...(options.inboxEtag ? { etag: options.inboxEtag } : {}) }
      : spec.source;
  const instanceId =
    source.kind === 'inbox' && source.etag && !body.idempotencyKey
      ? matchInstanceIdForBlob(source.container, source.blobName, source.etag)
      : matchInstanceIdForRequest(spec.storageId, source, body.idempotencyKey);
  // The HTTP or Event Grid invocation's span names the match it starts (or finds).
  setMatchAttributes({ matchId: instanceId });
  const request: MatchInput = {
    ...spec,
    source,
    // The run's own folder in the outbox: every run, even of the same file, writes only there.
    outbox: outboxLocationFor(source, instanceId),
    trigger: options.trigger,
    requestedAt: options.requestedAt.toISOString(),
  };

  const existing = await tryGetStatus(client, instanceId);
  if (existing) return { kind: 'existing', instanceId, runtimeStatus: existing };
  if (await wasArchived(source, body)) return { kind: 'existing', instanceId, runtimeStatus: ARCHIVED };
  try {
    await client.startNew(MATCH_ORCHESTRATION, { instanceId, input: orchestrationInput(request, settings) });
  } catch (error) {
    // A simultaneous duplicate (two deliveries of one event) started the same id between the check and the
    // start, so the task hub refused this start: that instance is the match.
    const raced = await tryGetStatus(client, instanceId).catch(() => undefined);
    if (raced) return { kind: 'existing', instanceId, runtimeStatus: raced };
    throw error;
  }
  return { kind: 'started', instanceId };
}

/** The runtime status reported for an upload whose match retention purged after archiving its file. */
export const ARCHIVED = 'Archived';

/**
 * True when this upload's own match ran and retention purged it: its file version is in the archive. The
 * archive copy is made before the purge and the inbox file removed after it, so a sweep that listed the
 * file just before, or an Event Grid delivery repeated late, finds the copy and starts nothing.
 */
async function wasArchived(source: MatchInput['source'], body: StartMatchBody): Promise<boolean> {
  if (source.kind !== 'inbox' || !source.etag || body.idempotencyKey) return false;
  const file = { container: source.container, blobName: source.blobName, etag: source.etag };
  const { getServices } = await loadServices();
  return isArchived(getServices().archive, file);
}

/** An instance's status, or undefined when none exists (DurableClient throws on 404 rather than returning). */
export async function findInstance(
  client: DurableClient,
  instanceId: string,
  options: { showInput?: boolean } = {},
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return (await client.getStatus(instanceId, { showInput: options.showInput ?? false })) ?? undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The runtime status of an instance, or undefined when none exists. */
export async function tryGetStatus(client: DurableClient, instanceId: string): Promise<string | undefined> {
  return (await findInstance(client, instanceId))?.runtimeStatus ?? undefined;
}
