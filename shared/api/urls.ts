/**
 * The app's own absolute URLs (statusUrl, cancelUrl, Location, the OpenAPI server) are built from the configured
 * origin: `PUBLIC_BASE_URL`, else the platform's `WEBSITE_HOSTNAME` (shared/config.ts). Never from the request's
 * `Host` header, which the caller chooses: reflecting it would let anyone hand out links to a host of theirs.
 * With neither set the URL stays relative to the API (`/api/...`), which a client resolves against where it sent
 * the request.
 */
import { getSettings, type Settings } from '../config.js';

/** `path` (starting with `/`) under the app's public base URL, or `path` itself when none is known. */
export function publicUrl(path: string, settings: Pick<Settings, 'http'> = getSettings()): string {
  return `${settings.http.publicBaseUrl ?? ''}${path}`;
}
