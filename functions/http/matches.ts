/**
 * The match API: start a match, read one, list them, cancel one. Handlers stay thin: the request contract
 * (zod schemas, field errors, OpenAPI) lives in shared/api, status mapping in shared/workflow/status.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import * as df from 'durable-functions';
import { conflict, fieldErrorsFromZod, notFound, validationError } from '../../shared/api/errors.js';
import type { StartMatchBody } from '../../shared/api/schemas.js';
import { isNotFound } from '../../shared/errors.js';
import { normaliseEtag } from '../../shared/etag.js';
import { partInstanceId } from '../../shared/workflow/ids.js';
import { pageByCreatedTime } from '../../shared/workflow/paging.js';
import type { PartsSummary } from '../../shared/workflow/partitions.js';
import { isActiveRuntimeStatus, toCompactStatus, withLiveParts } from '../../shared/workflow/status.js';
import { MATCH_ORCHESTRATION } from '../matchFile.js';
import { loadBody, loadListing, loadSchemas, loadServices, loadUrls } from '../onDemand.js';
import { findInstance, startMatch } from '../startMatch.js';

export async function startMatchHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ readJsonBody }, { START_MATCH_MAX_BODY_BYTES, startMatchRequestSchema }, { publicUrl }] =
    await Promise.all([loadBody(), loadSchemas(), loadUrls()]);
  const read = await readJsonBody(request, START_MATCH_MAX_BODY_BYTES);
  if (!read.ok) return read.response;
  const body = read.value as StartMatchBody;
  // The request's own rules first: a malformed request is answered for what is wrong with it, before any lookup.
  const shape = startMatchRequestSchema.safeParse(body, { reportInput: true });
  if (!shape.success) return validationError(fieldErrorsFromZod(shape.error.issues));

  let inboxEtag: string | undefined;
  if (typeof body.inboxBlob === 'string' && body.inboxBlob.length > 0) {
    const { inbox } = (await loadServices()).getServices();
    const properties = await inbox
      .getBlobClient(body.inboxBlob)
      .getProperties()
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    if (!properties) {
      return validationError([
        {
          field: 'inboxBlob',
          reason: `no blob named "${body.inboxBlob}" in container "${inbox.containerName}"`,
        },
      ]);
    }
    inboxEtag = normaliseEtag(properties.etag ?? '');
  }

  const client = df.getClient(context);
  const outcome = await startMatch(client, body, {
    trigger: 'http',
    requestedAt: new Date(),
    ...(inboxEtag ? { inboxEtag } : {}),
  });
  if (outcome.kind === 'rejected') return validationError(outcome.errors);
  const statusUrl = publicUrl(`/api/matches/${outcome.instanceId}`);
  return {
    status: 202,
    headers: { location: statusUrl, 'retry-after': '10' },
    jsonBody: {
      id: outcome.instanceId,
      created: outcome.kind === 'started',
      ...(outcome.kind === 'existing' ? { runtimeStatus: outcome.runtimeStatus } : {}),
      statusUrl,
      cancelUrl: `${statusUrl}/cancel`,
    },
  };
}

export async function getMatchHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const client = df.getClient(context);
  const status = await findMatch(client, id);
  if (!status) return notFound(`match "${id}"`);
  const compact = toCompactStatus(status);
  if (compact.parts && isActiveRuntimeStatus(compact.runtimeStatus)) {
    compact.parts = withLiveParts(compact.parts, await runningPartStatuses(client, id, compact.parts));
  }
  return { status: 200, jsonBody: compact };
}

/**
 * The custom status of each running part's sub-orchestration, by part index: at most the window's worth of
 * lookups, by the parts' deterministic instance ids. A part whose status cannot be read keeps what the parent knows.
 */
async function runningPartStatuses(
  client: DurableClient,
  id: string,
  parts: PartsSummary,
): Promise<Map<number, unknown>> {
  const running = parts.list.filter((p) => p.state === 'running');
  const found = await Promise.all(
    running.map(async (p) => {
      const child = await client.getStatus(partInstanceId(id, p.index, p.attempt)).catch(() => undefined);
      return [p.index, child?.customStatus] as const;
    }),
  );
  return new Map(found);
}

/**
 * One page of matches, newest first, in a bounded creation-time window (see shared/api/listing.ts); the
 * instances are read slice by slice (shared/workflow/paging.ts), never all at once.
 */
export async function listMatchesHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ parseListMatchesQuery }, { encodeContinuationToken, planListMatches }] = await Promise.all([
    loadSchemas(),
    loadListing(),
  ]);
  const query = parseListMatchesQuery(request.query);
  if (!query.ok) return validationError(query.errors);
  const plan = planListMatches(query.value, new Date());
  if (!plan.ok) return validationError(plan.errors);
  const { from, to, status, after, limit } = plan.value;
  const client = df.getClient(context);
  const runtimeStatus = status as df.OrchestrationRuntimeStatus[] | undefined;
  const page = await pageByCreatedTime(
    (window) => client.getStatusBy({ ...window, ...(runtimeStatus ? { runtimeStatus } : {}) }),
    { from, to, after, limit, accept: (s) => s.name === MATCH_ORCHESTRATION, now: new Date() },
  );
  const matches = page.items.map((s) => toCompactStatus(s));
  return {
    status: 200,
    jsonBody: {
      matches,
      count: matches.length,
      continuationToken: page.next ? encodeContinuationToken(plan.value, page.next) : null,
      window: { createdFrom: from.toISOString(), createdTo: to ? to.toISOString() : null },
    },
  };
}

export async function cancelMatchHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const client = df.getClient(context);
  const status = await findMatch(client, id);
  if (!status) return notFound(`match "${id}"`);
  if (!isActiveRuntimeStatus(status.runtimeStatus)) {
    return conflict(
      `match "${id}" has already finished (${status.runtimeStatus}); there is nothing to cancel`,
    );
  }
  await client.terminate(id, 'Cancelled through the gem-flow API');
  // A match finishing between the read above and the terminate is not cancelled (the task hub answers 410,
  // which the client accepts silently), so the outcome is read back.
  const after = await findInstance(client, id);
  if (after && after.runtimeStatus !== 'Terminated' && !isActiveRuntimeStatus(after.runtimeStatus)) {
    return conflict(`match "${id}" finished (${after.runtimeStatus}) before it could be cancelled`);
  }
  const compact = toCompactStatus(status);
  return {
    status: 202,
    jsonBody: {
      id,
      cancelled: true,
      note:
        compact.jobId !== null
          ? `gem-flow stopped following GEM job ${compact.jobId}. GEM has no cancel endpoint, so the job keeps running at TomTom; its results stay in the PDG storage and are not delivered to the outbox.`
          : 'gem-flow stopped this match before a GEM job was submitted.',
    },
  };
}

async function findMatch(client: DurableClient, id: string) {
  if (!/^[A-Za-z0-9:_-]{1,100}$/.test(id)) return undefined;
  const status = await findInstance(client, id);
  return status?.name === MATCH_ORCHESTRATION ? status : undefined;
}

app.http('startMatch', {
  route: 'matches',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: startMatchHandler,
});
app.http('listMatches', {
  route: 'matches',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: listMatchesHandler,
});
app.http('getMatch', {
  route: 'matches/{id}',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getMatchHandler,
});
app.http('cancelMatch', {
  route: 'matches/{id}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: cancelMatchHandler,
});
