/**
 * `GET /api/openapi.json`: the API's OpenAPI document, generated from the same zod schemas the handlers
 * validate with. The generator and the settings load on the first request, not at import, and the document
 * is built once per server origin and then served as it is.
 */
import { app, type HttpResponseInit } from '@azure/functions';
import type { OpenApiDocument } from '../../shared/api/openapi.js';
import { loadConfig, loadOpenApi } from '../onDemand.js';

/** Keyed by the configured origin (none when the settings are incomplete), so a fixed setting shows. */
const documents = new Map<string | undefined, OpenApiDocument>();

export async function openApiHandler(): Promise<HttpResponseInit> {
  // The configured origin, not the request's Host (shared/api/urls.ts); without one the document has no servers.
  const serverUrl = await configuredOrigin();
  let document = documents.get(serverUrl);
  if (!document) {
    const { buildOpenApiDocument } = await loadOpenApi();
    document = buildOpenApiDocument(serverUrl ? { serverUrl } : {});
    documents.set(serverUrl, document);
  }
  return { status: 200, jsonBody: document };
}

/** The document is anonymous and must not fail with the settings: a misconfigured app serves it without servers. */
async function configuredOrigin(): Promise<string | undefined> {
  const { getSettings } = await loadConfig();
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
