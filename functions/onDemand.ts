/**
 * The app's heavy modules, each behind one loader (shared/lazy.ts). Importing the entry loads the function
 * files, `@azure/functions`, `durable-functions` and the light pure modules of shared/ (ids, status, monitor
 * policy, outbox names); the modules below pull in the Azure SDKs, zod or the format readers, so a function
 * file imports only their types at the top and awaits the loader inside the handler or activity that uses
 * them. test/contract/app/coldStart.test.ts fails when one of them is loaded by merely requiring the entry.
 */
import { onFirstUse } from '../shared/lazy.js';

/** Settings (zod, croner). */
export const loadConfig = onFirstUse(() => import('../shared/config.js'));
/** The storage, identity and Key Vault clients, and the TomTom client on core-rest-pipeline. */
export const loadServices = onFirstUse(() => import('../shared/services.js'));
/** The HTTP API's request schemas (zod). */
export const loadSchemas = onFirstUse(() => import('../shared/api/schemas.js'));
/** The HTTP API's JSON body reader (zod schemas). */
export const loadBody = onFirstUse(() => import('../shared/api/body.js'));
/** The match list's query plan and continuation tokens (zod). */
export const loadListing = onFirstUse(() => import('../shared/api/listing.js'));
/** Public URLs for Location headers (settings). */
export const loadUrls = onFirstUse(() => import('../shared/api/urls.js'));
/** The OpenAPI document's generator (zod's JSON Schema output). */
export const loadOpenApi = onFirstUse(() => import('../shared/api/openapi.js'));
/** The health report and its dependency checks. */
export const loadHealth = onFirstUse(() => import('../shared/health.js'));
/** The match activities: validation (hyparquet, the format readers), staging, GEM, delivery, notify. */
export const loadMatchActivities = onFirstUse(() => import('../shared/activities/match.js'));
/** The storage inventory's activities and its snapshot and sweep-report blobs. */
export const loadInventory = onFirstUse(() => import('../shared/activities/inventory.js'));
