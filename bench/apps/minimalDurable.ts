/**
 * The cold-start benchmark's yardstick (bench/coldStart.ts): the smallest durable-functions app that does what
 * gem-flow does in kind, one HTTP starter, one orchestration and one activity, as the durable-functions
 * samples write it. gem-flow's entry is measured against this one; only ever imported by the benchmark's
 * child process, never deployed.
 */
import { app, type HttpHandler, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

df.app.activity('sayHello', { handler: (name: string) => `Hello, ${name}!` });

df.app.orchestration('helloSequence', function* (context) {
  return [
    yield context.df.callActivity('sayHello', 'Tokyo'),
    yield context.df.callActivity('sayHello', 'Lima'),
  ];
});

const startHello: HttpHandler = async (request: HttpRequest, context: InvocationContext) => {
  const client = df.getClient(context);
  const instanceId = await client.startNew('helloSequence');
  return client.createCheckStatusResponse(request, instanceId);
};

app.http('startHello', {
  route: 'orchestrators/helloSequence',
  methods: ['POST'],
  extraInputs: [df.input.durableClient()],
  handler: startHello,
});
