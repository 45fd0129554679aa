/**
 * The API explorer (its own bundle, loaded on the API tab): Swagger UI over the app's OpenAPI document. The
 * document is read by the page and handed over with the function key pre-filled for the header scheme; the
 * query-string scheme (`?code=`) is taken out, so the explorer never puts the key in a URL. Its servers are
 * this origin, the only one the page's Content-Security-Policy lets it call.
 */
import 'swagger-ui-dist/swagger-ui.css';
// The bundler build of Swagger UI with its dependencies (no standalone preset); swagger-ui-dist has no types.
// @ts-expect-error: swagger-ui-dist ships no type declarations.
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-es-bundle.js';

interface OpenApi {
  servers?: { url: string }[];
  security?: Record<string, string[]>[];
  components?: { securitySchemes?: Record<string, unknown> };
}

interface SwaggerUi {
  preauthorizeApiKey(scheme: string, key: string): void;
}

export async function renderSwagger(container: HTMLElement, key: string): Promise<void> {
  const response = await fetch('/api/openapi.json', { cache: 'no-store' });
  const spec = (await response.json()) as OpenApi;
  spec.servers = [{ url: window.location.origin }];
  spec.security = (spec.security ?? []).filter((s) => !('functionKeyQuery' in s));
  delete spec.components?.securitySchemes?.functionKeyQuery;
  const ui = SwaggerUIBundle({
    spec,
    domNode: container,
    deepLinking: false,
    validatorUrl: null,
    tryItOutEnabled: true,
    persistAuthorization: false,
    onComplete: () => (ui as SwaggerUi).preauthorizeApiKey('functionKeyHeader', key),
  }) as SwaggerUi;
}
