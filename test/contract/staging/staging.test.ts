/**
 * Staging against Azurite (app account and a PDG account on one instance) with the real SDK clients: the
 * PDG side as the unwrapped service principal, the app side either with the account key (the local
 * stack's AzureWebJobsStorage connection string) or the app's managed identity (Azurite OAuth). Azurite
 * 3.37 behaviour this relies on (node_modules/azurite/dist/src/blob/handlers): Get User Delegation Key
 * answers any bearer token (ServiceHandler.getUserDelegationKey), a user-delegation SAS is checked against a
 * key recomputed from its signed fields (BlobSASAuthenticator), Put Block From URL reads sources on the
 * same instance over loopback, any account (BlockBlobHandler.stageBlockFromURL), Put Blob From URL answers
 * 501 (BlockBlobHandler.putBlobFromUrl).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
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
const appAsIdentity = new BlobServiceClient(
  stack.blobUrl,
  new ManagedIdentityCredential({ clientId: stack.managedIdentity.clientId }),
);
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
  it('streams an input reached with the account key (no user delegation key), says why, then skips the second run', async () => {
    const bytes = roadMatchingSample('valid', { rows: 2000, seed: randomInt() });
    const source = await uploadInput(bytes);
    const sourceEtag = (await source.getProperties()).etag;
    const target = pdgContainerClient(pdgAccess);
    const log: string[] = [];

    const first = await stageInput({ source, target, bufferBytes: 64 * 1024, log: (l) => log.push(l) });
    expect(first).toMatchObject({
      targetName: contentDerivedName('roads.parquet', first.contentId),
      sha256: sha256(bytes),
      size: bytes.byteLength,
      skipped: false,
      method: 'streamed',
      identityBasis: 'source-version',
      bytesThroughApp: bytes.byteLength,
    });
    expect(first.fallbackReason).toMatch(/account key.*user delegation key/);
    expect(log).toEqual([expect.stringContaining(`streamed through the app: ${first.fallbackReason}`)]);
    const staged = target.getBlobClient(first.targetName);
    expect(new Uint8Array(await staged.downloadToBuffer())).toEqual(bytes);
    const props = await staged.getProperties();
    expect(props.metadata).toMatchObject({
      sourceid: first.contentId,
      sha256: sha256(bytes),
      sourceuri: source.url,
    });

    const second = await stageInput({ source, target, log: (l) => log.push(l) });
    expect(second).toEqual({
      ...first,
      skipped: true,
      method: null,
      bytesThroughApp: 0,
      fallbackReason: undefined,
    });
    expect(log).toHaveLength(1);
    // The source is never written: its etag identifies the upload (and so the match instance).
    expect((await source.getProperties()).etag).toBe(sourceEtag);
  });

  it('copies server-side with a user-delegation SAS when the app reaches its storage as its managed identity', async () => {
    const bytes = roadMatchingSample('valid', { rows: 4000, seed: randomInt() });
    const uploaded = await uploadInput(bytes);
    const source = appAsIdentity.getContainerClient(stack.inboxContainer).getBlobClient(uploaded.name);
    const target = pdgContainerClient(pdgAccess);
    const log: string[] = [];
    // Blocks of 64 KiB make the copy several Put Block From URL calls, each with its own SAS.
    const staged = await stageInput({
      source,
      target,
      serverSideBlockBytes: 64 * 1024,
      log: (l) => log.push(l),
    });
    expect(bytes.byteLength).toBeGreaterThan(3 * 64 * 1024);
    expect(staged).toMatchObject({ method: 'server-side', bytesThroughApp: 0, skipped: false, sha256: null });
    expect(staged.fallbackReason).toBeUndefined();
    expect(log).toEqual([expect.stringContaining('server-side')]);
    expect(log.join('\n')).not.toMatch(/sig=|\?s[a-z]+=/);
    const copy = target.getBlobClient(staged.targetName);
    expect(new Uint8Array(await copy.downloadToBuffer())).toEqual(bytes);
    const props = await copy.getProperties();
    expect(props.contentType).toBe('application/vnd.apache.parquet');
    expect(props.metadata).toMatchObject({ sourceid: staged.contentId, sourceuri: uploaded.url });
    const blocks = await target.getBlockBlobClient(staged.targetName).getBlockList('committed');
    expect(blocks.committedBlocks?.length).toBe(Math.ceil(bytes.byteLength / (64 * 1024)));

    // The same upload through the account key has the same identity: found, not copied again.
    const again = await stageInput({ source: uploaded, target });
    expect(again).toMatchObject({ targetName: staged.targetName, skipped: true, bytesThroughApp: 0 });
  });

  it('names a source by its recorded content address, so the same bytes re-uploaded are not staged again', async () => {
    const bytes = roadMatchingSample('valid', { rows: 300, seed: randomInt() });
    const hash = sha256(bytes);
    const inbox = appAsIdentity.getContainerClient(stack.inboxContainer);
    const upload = async () => {
      const blob = inbox.getBlockBlobClient(`contract-${randomUUID()}/roads.parquet`);
      await blob.uploadData(bytes, { metadata: { sha256: hash, sha256size: String(bytes.byteLength) } });
      return blob;
    };
    const target = pdgContainerClient(pdgAccess);
    const first = await stageInput({ source: await upload(), target });
    expect(first).toMatchObject({
      targetName: contentDerivedName('roads.parquet', hash),
      sha256: hash,
      identityBasis: 'recorded-sha256',
      method: 'server-side',
    });
    const second = await stageInput({ source: await upload(), target });
    expect(second).toMatchObject({ targetName: first.targetName, skipped: true });
  });

  it('falls back to streaming, and says why, when the PDG storage cannot read the source', async () => {
    // Azurite reads a Put Block From URL source only on its own host (BlockBlobHandler.stageBlockFromURL
    // compares it with the request's Host), as a network rule on the source account would refuse Azure:
    // a source addressed as localhost while the PDG account is 127.0.0.1 is a real refusal (404 CannotVerifyCopySource).
    const bytes = roadMatchingSample('valid', { rows: 500, seed: randomInt() });
    const uploaded = await uploadInput(bytes);
    const elsewhere = new BlobServiceClient(
      stack.blobUrl.replace('127.0.0.1', 'localhost'),
      new ManagedIdentityCredential({ clientId: stack.managedIdentity.clientId }),
    );
    const source = elsewhere.getContainerClient(stack.inboxContainer).getBlobClient(uploaded.name);
    const target = pdgContainerClient(pdgAccess);
    const log: string[] = [];
    const staged = await stageInput({ source, target, log: (l) => log.push(l) });
    expect(staged).toMatchObject({
      method: 'streamed',
      bytesThroughApp: bytes.byteLength,
      sha256: sha256(bytes),
    });
    expect(staged.fallbackReason).toBe(
      'Put Block From URL into the PDG storage was refused (404 CannotVerifyCopySource)',
    );
    expect(log).toEqual([expect.stringContaining(staged.fallbackReason!)]);
    expect(new Uint8Array(await target.getBlobClient(staged.targetName).downloadToBuffer())).toEqual(bytes);
  });

  it('streams when told to, even where the server-side path is open', async () => {
    const bytes = roadMatchingSample('valid', { rows: 200, seed: randomInt() });
    const uploaded = await uploadInput(bytes);
    const source = appAsIdentity.getContainerClient(stack.inboxContainer).getBlobClient(uploaded.name);
    const target = pdgContainerClient(pdgAccess);
    const staged = await stageInput({ source, target, serverSideCopy: false });
    expect(staged).toMatchObject({
      method: 'streamed',
      bytesThroughApp: bytes.byteLength,
      sha256: sha256(bytes),
    });
    expect(staged.fallbackReason).toMatch(/turned off/);
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
