/**
 * Health, in two routes. `GET /api/health` (anonymous) is liveness only: a constant answer, no setting read, no
 * outbound call, nothing a stranger could learn the deployment from. `GET /api/health/report` (function key) is
 * the full report: settings in force (secrets only as set or not set), every settings problem, the Node version
 * and the dependency checks, cached for a short time (shared/health.ts); 200 when all is well, 503 otherwise.
 */
import { app, type HttpResponseInit } from '@azure/functions';
import { loadHealth } from '../onDemand.js';

export async function livenessHandler(): Promise<HttpResponseInit> {
  const { liveness } = await loadHealth();
  return { status: 200, jsonBody: liveness(), headers: { 'cache-control': 'no-store' } };
}

export async function healthReportHandler(): Promise<HttpResponseInit> {
  const report = await (await loadHealth()).healthReport();
  return {
    status: report.status === 'ok' ? 200 : 503,
    jsonBody: report,
    headers: { 'cache-control': 'no-store' },
  };
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: livenessHandler });
app.http('healthReport', {
  route: 'health/report',
  methods: ['GET'],
  authLevel: 'function',
  handler: healthReportHandler,
});
