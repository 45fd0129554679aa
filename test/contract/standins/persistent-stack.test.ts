/**
 * Persistent mode, as `npm start` runs it: Azurite keeps its data under `<dir>/azurite`, and the certificate
 * is reused, so a second start sees the first start's blobs under stable CA paths.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../../local/standins/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-persistent-'));
let running: Stack | undefined;

afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('persistent stack', () => {
  it('keeps app blobs and the certificate across a restart', async () => {
    running = await startStack({ dir, persistent: true, writeStackJson: false });
    const first = running;
    const outbox = BlobServiceClient.fromConnectionString(
      first.info.storageConnectionString,
    ).getContainerClient(first.info.outboxContainer);
    await outbox.getBlockBlobClient('kept.txt').upload('still here', 10);
    await first.close();
    expect(existsSync(join(dir, 'azurite'))).toBe(true);

    running = await startStack({ dir, persistent: true, writeStackJson: false });
    const second = running;
    expect(second.tls.reused).toBe(true);
    expect(second.tls.caFile).toBe(first.tls.caFile);
    const again = BlobServiceClient.fromConnectionString(
      second.info.storageConnectionString,
    ).getContainerClient(second.info.outboxContainer);
    expect((await again.getBlockBlobClient('kept.txt').downloadToBuffer()).toString()).toBe('still here');
  });
});
