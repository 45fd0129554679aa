/**
 * The results page: one anonymous route serving the built page (dist/web, which the deployment package
 * carries) and nothing else. It holds no data; the page asks for the function key and sends it with every
 * data call it makes to the API routes. Headers, caching and the file list are in shared/ui/staticAssets.ts.
 */
import { join } from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { StaticSite } from '../../shared/ui/staticAssets.js';

/** dist/functions/http/ui.js → dist/web. */
const site = new StaticSite(join(__dirname, '..', '..', 'web'));

export async function uiHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const answer = await site.respond({
    path: request.params.path ?? '',
    acceptEncoding: request.headers.get('accept-encoding'),
    ifNoneMatch: request.headers.get('if-none-match'),
    headOnly: request.method === 'HEAD',
  });
  return { status: answer.status, headers: answer.headers, ...(answer.body ? { body: answer.body } : {}) };
}

app.http('ui', {
  // `{*path}` also matches the bare `ui`, which serves the page itself.
  route: 'ui/{*path}',
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  handler: uiHandler,
});
