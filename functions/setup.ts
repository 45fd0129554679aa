import { app } from '@azure/functions';

// Imported first by index.ts: app.setup must run before any function registers.
app.setup({ enableHttpStream: false });
