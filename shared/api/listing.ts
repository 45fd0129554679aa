/**
 * `GET /api/matches` paging: from a validated query (and the previous page's continuation token) to the
 * window and cursor `pageByCreatedTime` works on, and back to the token for the next page. The token is
 * opaque to clients (base64url JSON) and carries the first request's status filter and time window, so every
 * page of one listing covers the same window even when "now" moves on between requests.
 */
import { z } from 'zod';
import type { PageCursor } from '../workflow/paging.js';
import type { FieldError } from './errors.js';
import {
  LIST_MATCHES_DEFAULT_PAGE_SIZE,
  LIST_MATCHES_DEFAULT_WINDOW_DAYS,
  type ListMatchesQuery,
  type Resolution,
  RUNTIME_STATUSES,
  type RuntimeStatus,
} from './schemas.js';

export interface ListMatchesPlan {
  readonly from: Date;
  readonly to: Date | undefined;
  readonly status: RuntimeStatus[] | undefined;
  readonly after: PageCursor | undefined;
  readonly limit: number;
}

const DAY_MS = 86_400_000;
const TOKEN_FIELD = 'continuationToken';

const isoInstant = z.iso.datetime();
const tokenSchema = z.strictObject({
  v: z.literal(1),
  from: isoInstant,
  to: isoInstant.optional(),
  status: z.array(z.enum(RUNTIME_STATUSES)).min(1).optional(),
  after: z.strictObject({ createdTime: isoInstant, instanceId: z.string().min(1).max(256) }),
});
type TokenContent = z.infer<typeof tokenSchema>;

export function encodeContinuationToken(plan: ListMatchesPlan, cursor: PageCursor): string {
  const content: TokenContent = {
    v: 1,
    from: plan.from.toISOString(),
    ...(plan.to ? { to: plan.to.toISOString() } : {}),
    ...(plan.status ? { status: plan.status } : {}),
    after: { createdTime: cursor.createdTime, instanceId: cursor.instanceId },
  };
  return Buffer.from(JSON.stringify(content), 'utf8').toString('base64url');
}

function decodeContinuationToken(token: string): TokenContent | undefined {
  try {
    const parsed = tokenSchema.safeParse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const sameInstant = (given: string | undefined, carried: string | undefined) =>
  given === undefined || (carried !== undefined && Date.parse(given) === Date.parse(carried));
const sameStatuses = (given: RuntimeStatus[] | undefined, carried: RuntimeStatus[] | undefined) =>
  given === undefined || [...given].sort().join(',') === [...(carried ?? [])].sort().join(',');

/** The filters of a request that continues a listing: the token's, which the request may only repeat. */
function continuePlan(query: ListMatchesQuery, token: string): Resolution<ListMatchesPlan> {
  const content = decodeContinuationToken(token);
  if (!content) {
    return fail(
      TOKEN_FIELD,
      'is not a continuation token of this API (pass the value of a previous response)',
    );
  }
  const conflicts = [
    sameStatuses(query.status, content.status) ? undefined : 'status',
    sameInstant(query.createdFrom, content.from) ? undefined : 'createdFrom',
    sameInstant(query.createdTo, content.to) ? undefined : 'createdTo',
  ].filter((field): field is string => field !== undefined);
  if (conflicts.length > 0) {
    return fail(
      TOKEN_FIELD,
      `was issued for another ${conflicts.join(', ')}; repeat the first request's values or leave them out`,
    );
  }
  return {
    ok: true,
    value: {
      from: new Date(content.from),
      to: content.to ? new Date(content.to) : undefined,
      status: content.status,
      after: content.after,
      limit: query.top ?? LIST_MATCHES_DEFAULT_PAGE_SIZE,
    },
  };
}

/** The window, filters and cursor of one `GET /api/matches` request. */
export function planListMatches(query: ListMatchesQuery, now: Date): Resolution<ListMatchesPlan> {
  if (query.continuationToken) return continuePlan(query, query.continuationToken);
  const to = query.createdTo ? new Date(query.createdTo) : undefined;
  const from = query.createdFrom
    ? new Date(query.createdFrom)
    : new Date((to ?? now).getTime() - LIST_MATCHES_DEFAULT_WINDOW_DAYS * DAY_MS);
  return {
    ok: true,
    value: {
      from,
      to,
      status: query.status,
      after: undefined,
      limit: query.top ?? LIST_MATCHES_DEFAULT_PAGE_SIZE,
    },
  };
}

function fail(field: string, reason: string): { ok: false; errors: FieldError[] } {
  return { ok: false, errors: [{ field, reason }] };
}
