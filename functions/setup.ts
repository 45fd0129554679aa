/**
 * The app's one-time `@azure/functions` setup, in a module of its own because `app.setup` must run before any
 * function registers: `functions/index.ts` imports it first. HTTP streaming stays off: every route here reads
 * bounded bodies and answers with small JSON documents or streams it builds itself.
 */
import { app } from '@azure/functions';

// Imported first by index.ts: app.setup must run before any function registers.
app.setup({ enableHttpStream: false });
