import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { buildOpenApiDocument } from '../../shared/api/openapi.js';

export async function openApiHandler(request: HttpRequest): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: buildOpenApiDocument({ serverUrl: new URL(request.url).origin }) };
}

app.http('openapi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: openApiHandler,
});
