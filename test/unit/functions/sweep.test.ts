// The inventory refresh the sweep and GET /api/storages?refresh=true share, against a fake DurableClient.
import type { DurableClient } from 'durable-functions';
import { beforeAll, describe, expect, it, vi } from 'vitest';

let refreshInventory: typeof import('../../../functions/sweep.js').refreshInventory;
let findStuckMatches: typeof import('../../../functions/sweep.js').findStuckMatches;

beforeAll(async () => {
  // functions/sweep.ts reads the sweep schedule from settings when it registers its timer.
  vi.stubEnv('TOMTOM_API_KEY', 'local-key-123456');
  vi.stubEnv('AzureWebJobsStorage', 'UseDevelopmentStorage=true');
  ({ refreshInventory, findStuckMatches } = await import('../../../functions/sweep.js'));
});

/** A task hub holding instances by id; started instances complete at once unless told otherwise. */
function fakeTaskHub(options: { completeOnStart?: boolean } = {}) {
  const instances = new Map<string, string>();
  const calls: string[] = [];
  const client = {
    async getStatus(id: string) {
      const status = instances.get(id);
      if (!status)
        throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response.`);
      return { instanceId: id, runtimeStatus: status };
    },
    async purgeInstanceHistory(id: string) {
      calls.push(`purge ${id}`);
      instances.delete(id);
    },
    async startNew(name: string, { instanceId }: { instanceId: string }) {
      calls.push(`start ${name} ${instanceId}`);
      instances.set(instanceId, options.completeOnStart === false ? 'Running' : 'Completed');
      return instanceId;
    },
  };
  return { instances, calls, client: client as unknown as DurableClient };
}

describe('refreshInventory', () => {
  it('keeps one listStorages instance however many sweeps run: a finished refresh is replaced, not left behind', async () => {
    const hub = fakeTaskHub();
    // A day of sweeps every 15 minutes.
    for (let i = 0; i < 96; i++) {
      const result = await refreshInventory(hub.client, 4);
      expect(result.action).toBe('started');
    }
    expect([...hub.instances.keys()]).toHaveLength(1);
  });

  it('joins a refresh that is still running instead of starting another', async () => {
    const hub = fakeTaskHub({ completeOnStart: false });
    const first = await refreshInventory(hub.client, 4);
    // A later sweep, or GET /api/storages?refresh=true, while the first run still works.
    const second = await refreshInventory(hub.client, 4);
    expect(first.action).toBe('started');
    expect(second).toEqual({ instanceId: first.instanceId, action: 'already-running' });
    expect(hub.calls.filter((c) => c.startsWith('start'))).toHaveLength(1);
    expect(hub.calls.filter((c) => c.startsWith('purge'))).toHaveLength(0);
  });
});

describe('findStuckMatches', () => {
  const started = '2026-02-18T10:00:00.000Z';
  const instance = (instanceId: string, customStatus: unknown, name = 'matchFile') => ({
    instanceId,
    name,
    runtimeStatus: 'Running',
    createdTime: new Date(started),
    customStatus,
  });
  const client = (instances: unknown[]) =>
    ({ getStatusBy: async () => instances }) as unknown as DurableClient;

  it('measures a monitoring match against the deadline it publishes, which runs from the job submission', async () => {
    const deadlineHours = 48;
    const instances = [
      // Staged for three hours before the job was submitted: its deadline is 51 h after the start.
      instance('match-slow-staging', {
        phase: 'monitoring',
        startedAt: started,
        deadline: '2026-02-20T13:00:00.000Z',
      }),
      instance('match-past-deadline', {
        phase: 'monitoring',
        startedAt: started,
        deadline: '2026-02-20T10:00:00.000Z',
      }),
      // Not monitoring yet, so no published deadline: measured from its start.
      instance('match-stuck-staging', { phase: 'staging', startedAt: started }),
      instance('list-storages', null, 'listStorages'),
    ];
    const now = new Date('2026-02-20T11:00:00.000Z');
    const stuck = await findStuckMatches(client(instances), now, deadlineHours);
    expect(stuck.map((s) => s.instanceId)).toEqual(['match-past-deadline', 'match-stuck-staging']);
  });
});
