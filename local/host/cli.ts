/**
 * Process entry of the local Functions host:
 *   node dist/local/host/cli.js --app <dir> [--port <p>] [--state-dir <dir>] [--keys-file <file>]
 * App settings come from the environment. Prints a ready line with the URL, then one JSON line
 * (`{"event":"ready",...}`) for launchers; exits cleanly on SIGINT/SIGTERM.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startHost } from './host.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string', default: '.' },
      port: { type: 'string' },
      'state-dir': { type: 'string' },
      'keys-file': { type: 'string' },
    },
  });
  const appRoot = resolve(values.app);
  const stateDir = resolve(values['state-dir'] ?? join(appRoot, '.local', 'host'));
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !Number.isInteger(port))
    throw new Error(`--port must be a number, got "${values.port}".`);

  const host = await startHost({ appRoot, port, stateDir, keysFile: values['keys-file'] });
  console.log(`gem-flow local host listening on ${host.baseUrl}`);
  console.log(
    JSON.stringify({
      event: 'ready',
      baseUrl: host.baseUrl,
      port: host.port,
      pid: process.pid,
      functions: host.functions,
      functionErrors: host.functionErrors,
    }),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.error(`Second ${signal}: exiting without a clean shutdown.`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal} received; stopping the Functions host.`);
    host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const e = error as Error;
  console.error(`The Functions host failed to start: ${e?.message ?? String(error)}`);
  if (e?.cause instanceof Error && e.cause.stack) console.error(e.cause.stack);
  process.exit(1);
});
