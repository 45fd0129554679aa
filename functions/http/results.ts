/**
 * Registrations of the results page's data routes: one of a match's outbox documents streamed through the app,
 * and its roads as GeoJSON for the map. The handlers (functions/http/resultHandlers.ts) and what they read with
 * — the storage SDK, the format readers, hyparquet — load on the first request, so a new instance does not pay
 * for them at start (see functions/onDemand.ts).
 */
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { onFirstUse } from '../../shared/lazy.js';

const loadHandlers = onFirstUse(() => import('./resultHandlers.js'));

app.http('getMatchOutput', {
  route: 'matches/{id}/outputs/{document}',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => (await loadHandlers()).matchOutputHandler(request, context),
});
app.http('getMatchMap', {
  route: 'matches/{id}/map',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => (await loadHandlers()).matchMapHandler(request, context),
});
