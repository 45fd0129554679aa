/**
 * Contract tests of `shared/staging/copy.ts`, with real components (Azurite, the real SDK clients): staging
 * against Azurite with the PDG service principal.
 */
import { createHash, randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { deliverResult, stageInput } from '../../../shared/staging/copy.js';
import { StagingError } from '../../../shared/staging/errors.js';
import { contentDerivedName } from '../../../shared/staging/names.js';
import { pdgContainerClient } from '../../../shared/staging/pdgContainer.js';

const stack = inject('stack');
const pdgInfo = stack.pdgStorages[0]!;
const app = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const pdgAccess = {
  containerUrl: pdgInfo.containerUrl,
  tenantId: pdgInfo.servicePrincipal.tenantId,
  clientId: pdgInfo.servicePrincipal.clientId,
  clientSecret: pdgInfo.servicePrincipal.clientSecret,
  authorityHost: stack.authorityHost,
  disableInstanceDiscovery: true,
};
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function uploadInput(bytes: Uint8Array) {
  const inbox = app.getContainerClient(stack.inboxContainer);
  await inbox.createIfNotExists();
  const blob = inbox.getBlockBlobClient(`contract-${randomUUID()}/roads.parquet`);
  await blob.uploadData(bytes);
  return blob;
}

describe('staging against Azurite with the PDG service principal', () => {
  it('stages an input under its content-derived name, then skips the second run', async () => {
    const bytes = roadMatchingSample('valid', { rows: 2000, seed: randomInt() });
    const source = await uploadInput(bytes);
    const sourceEtag = (await source.getProperties()).etag;
    const target = pdgContainerClient(pdgAccess);

    const first = await stageInput({ source, target, bufferBytes: 64 * 1024 });
    expect(first).toEqual({
      targetName: contentDerivedName('roads.parquet', sha256(bytes)),
      sha256: sha256(bytes),
      size: bytes.byteLength,
      skipped: false,
    });
    const staged = target.getBlobClient(first.targetName);
    expect(new Uint8Array(await staged.downloadToBuffer())).toEqual(bytes);
    const props = await staged.getProperties();
    expect(props.metadata?.sha256).toBe(sha256(bytes));
    expect(props.metadata?.sourceuri).toBe(source.url);

    const second = await stageInput({ source, target });
    expect(second).toEqual({ ...first, skipped: true });
    // The source is never written: its etag identifies the upload (and so the match instance).
    expect((await source.getProperties()).etag).toBe(sourceEtag);
  });

  it('lets two concurrent runs stage the same file: both succeed, one upload', async () => {
    const bytes = roadMatchingSample('valid', { rows: 3000, seed: randomInt() });
    const source = await uploadInput(bytes);
    const target = pdgContainerClient(pdgAccess);
    const results = await Promise.all([stageInput({ source, target }), stageInput({ source, target })]);
    expect(results.map((r) => r.targetName)).toEqual([results[0]!.targetName, results[0]!.targetName]);
    expect(results.filter((r) => !r.skipped).length).toBeLessThanOrEqual(1);
    expect(new Uint8Array(await target.getBlobClient(results[0]!.targetName).downloadToBuffer())).toEqual(
      bytes,
    );
  });

  it('delivers a result from the PDG container to the outbox once', async () => {
    const pdg = pdgContainerClient(pdgAccess);
    const resultBytes = roadMatchingSample('valid', { rows: 500, seed: randomInt() });
    const result = pdg.getBlockBlobClient(`result-${randomUUID()}.parquet`);
    await result.uploadData(resultBytes);
    const outbox = app.getContainerClient(stack.outboxContainer);
    await outbox.createIfNotExists();
    const target = outbox.getBlockBlobClient(`contract-${randomUUID()}/roads.results.parquet`);

    const first = await deliverResult({ source: pdg.getBlobClient(result.name), target });
    expect(first.skipped).toBe(false);
    expect(first.sha256).toBe(sha256(resultBytes));
    expect(new Uint8Array(await target.downloadToBuffer())).toEqual(resultBytes);
    const second = await deliverResult({ source: pdg.getBlobClient(result.name), target });
    expect(second).toMatchObject({
      skipped: true,
      size: resultBytes.byteLength,
      sourceEtag: first.sourceEtag,
    });

    // A newer result (new etag) is delivered again.
    const newer = roadMatchingSample('valid', { rows: 10, seed: randomInt() });
    await result.uploadData(newer);
    const third = await deliverResult({ source: pdg.getBlobClient(result.name), target });
    expect(third.skipped).toBe(false);
    expect(new Uint8Array(await target.downloadToBuffer())).toEqual(newer);
  });

  it('fails with a typed, secret-free error when the service principal secret is wrong', async () => {
    const source = await uploadInput(roadMatchingSample('valid', { rows: 10, seed: randomInt() }));
    const wrongSecret = `wrong-${randomUUID()}`;
    const target = pdgContainerClient({ ...pdgAccess, clientSecret: wrongSecret });
    const err = await stageInput({ source, target, secrets: [wrongSecret] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StagingError);
    expect((err as StagingError).code).toBe('PDG_AUTH_FAILED');
    expect((err as Error).message).not.toContain(wrongSecret);
    expect((err as Error).message).not.toContain(pdgAccess.clientSecret);
  });
});

function randomInt(): number {
  return Math.floor(Math.random() * 1_000_000);
}
