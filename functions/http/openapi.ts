/**
 * `GET /api/openapi.json`: the OpenAPI 3.1 document built from the same zod schemas the handlers validate
 * with (shared/api/openapi.ts), so the document and the API cannot drift. Anonymous, and it must answer even
 * when the app's settings are broken, so a user can still read what the API expects.
 */
import { app, type HttpResponseInit } from '@azure/functions';
import { buildOpenApiDocument } from '../../shared/api/openapi.js';
import { getSettings } from '../../shared/config.js';

export async function openApiHandler(): Promise<HttpResponseInit> {
  // The configured origin, not the request's Host (shared/api/urls.ts); without one the document has no servers.
  const serverUrl = configuredOrigin();
  return { status: 200, jsonBody: buildOpenApiDocument(serverUrl ? { serverUrl } : {}) };
}

/** The document is anonymous and must not fail with the settings: a misconfigured app serves it without servers. */
function configuredOrigin(): string | undefined {
  try {
    return getSettings().http.publicBaseUrl;
  } catch {
    return undefined;
  }
}

app.http('openapi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: openApiHandler,
});
