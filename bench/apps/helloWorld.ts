/**
 * The cold-start benchmark's floor (bench/coldStart.ts): the smallest Azure Functions v4 app, one anonymous
 * HTTP function and nothing else, as the quickstarts write it. Only ever imported by the benchmark's child
 * process; never deployed.
 */
import { app } from '@azure/functions';

app.http('hello', {
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request) => ({ body: `Hello, ${request.query.get('name') ?? 'world'}!` }),
});
