/**
 * Waiting for a match instance in the benchmarks: the Durable HTTP API's status of one instance, polled until it
 * completes. A run that fails or is terminated ends the benchmark with its output, since its figures would mean
 * nothing.
 */
import type { LocalApp } from '../local/app.js';

export async function untilCompleted(app: LocalApp, instanceId: string, pollMs: number): Promise<void> {
  const statusUrl = `${app.baseUrl}/runtime/webhooks/durabletask/instances/${instanceId}?code=${encodeURIComponent(app.keys.systemKey)}`;
  for (;;) {
    const status = await fetch(statusUrl);
    if (status.ok) {
      const body = (await status.json()) as { runtimeStatus: string; output: unknown };
      if (body.runtimeStatus === 'Completed') return;
      if (['Failed', 'Terminated'].includes(body.runtimeStatus)) {
        throw new Error(`gem-flow run ended ${body.runtimeStatus}: ${JSON.stringify(body.output)}`);
      }
    } else {
      await status.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
