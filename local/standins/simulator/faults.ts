// Fault injection: rules added through the admin API that make matching requests slow down and/or
// fail with a chosen status before any authentication runs, or lose their response after running.
import { z } from 'zod';
import type { SimResponse } from './responses.js';

export const faultRuleSchema = z.strictObject({
  /** A route key such as 'POST /jobs', or '*' (default) for every TomTom/Vault route. */
  route: z.string().min(1).optional(),
  method: z.string().min(1).optional(),
  status: z.number().int().min(100).max(599).optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  /** Real (not virtual) milliseconds: it models network latency. */
  latencyMs: z.number().min(0).max(120_000).optional(),
  /** Apply to the next N matching requests only; omitted = until cleared. */
  times: z.number().int().min(1).optional(),
  probability: z.number().min(0).max(1).optional(),
  body: z.record(z.string(), z.unknown()).optional(),
  /**
   * What happens after the request was handled: 'drop-connection' lets it execute (a job is created, say)
   * and then destroys the socket instead of answering, as a connection lost mid-response does.
   */
  afterHandler: z.enum(['drop-connection']).optional(),
});
export type FaultRuleInput = z.infer<typeof faultRuleSchema>;
export interface FaultRule extends FaultRuleInput {
  id: number;
  /** How many requests this rule has hit so far. */
  hits: number;
}

export interface FaultDecision {
  rule: FaultRule;
  latencyMs: number;
  /** undefined when the rule only adds latency. */
  response?: SimResponse;
}

const STATUS_CODES: Record<number, [string, string]> = {
  400: ['BadRequest', 'The request is invalid.'],
  401: ['Unauthorized', 'Access denied.'],
  403: ['Forbidden', 'Access denied.'],
  404: ['NotFound', 'Resource not found.'],
  408: ['RequestTimeout', 'The request timed out.'],
  429: ['TooManyRequests', 'Rate limit is exceeded.'],
  500: ['InternalServerError', 'The server encountered an internal error. Please retry the request.'],
  502: ['BadGateway', 'The upstream service returned an invalid response.'],
  503: ['ServiceUnavailable', 'The service is temporarily unavailable. Please retry the request.'],
  504: ['GatewayTimeout', 'The upstream service did not respond in time.'],
};

/** Default body for an injected status: Vault shape on the unwrap route, TomTom shape elsewhere. */
export function defaultFaultBody(status: number, routeKey: string, retryAfterSeconds?: number): unknown {
  const [code, text] = STATUS_CODES[status] ?? ['Error', `Injected status ${status}.`];
  const message =
    status === 429 && retryAfterSeconds !== undefined
      ? `${text} Try again in ${retryAfterSeconds} seconds.`
      : text;
  return routeKey === 'POST /unwrap' ? { errors: [message] } : { error: { code, message } };
}

export class FaultStore {
  private rules: FaultRule[] = [];
  private nextId = 1;

  constructor(private readonly random: () => number = Math.random) {}

  add(input: FaultRuleInput): FaultRule {
    const rule: FaultRule = { ...input, id: this.nextId++, hits: 0 };
    this.rules.push(rule);
    return rule;
  }
  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }
  clear(): number {
    const n = this.rules.length;
    this.rules = [];
    return n;
  }

  /**
   * First rule that matches (route, method), still has uses left and wins its probability draw.
   * A matched rule with `times` is consumed; an exhausted rule is dropped.
   */
  match(routeKey: string, method: string): FaultDecision | undefined {
    for (const rule of this.rules) {
      if (rule.route !== undefined && rule.route !== '*' && rule.route !== routeKey) continue;
      if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (rule.probability !== undefined && !(this.random() < rule.probability)) continue;
      rule.hits++;
      if (rule.times !== undefined && rule.hits >= rule.times) {
        this.rules = this.rules.filter((r) => r !== rule);
      }
      const headers: Record<string, string> = {};
      if (rule.retryAfterSeconds !== undefined) headers['retry-after'] = String(rule.retryAfterSeconds);
      return {
        rule: { ...rule },
        latencyMs: rule.latencyMs ?? 0,
        response:
          rule.status === undefined
            ? undefined
            : {
                status: rule.status,
                headers,
                body: rule.body ?? defaultFaultBody(rule.status, routeKey, rule.retryAfterSeconds),
              },
      };
    }
    return undefined;
  }
}
