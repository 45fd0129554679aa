/**
 * TomTom's PDG storage as the app reaches it: the service principal that Vault unwrap returns, used with
 * ClientSecretCredential (authorityHost + disableInstanceDiscovery) against the Entra stand-in, then a
 * ContainerClient on the PDG account's `default` container over HTTPS.
 */
import { Readable } from 'node:stream';
import { ClientSecretCredential } from '@azure/identity';
import { ContainerClient } from '@azure/storage-blob';
import { decodeJwt } from 'jose';
import { describe, expect, inject, it } from 'vitest';

const stack = inject('stack');
const pdg = stack.pdgStorages[0]!;
const sp = pdg.servicePrincipal;

function credential(secret = sp.clientSecret, clientId = sp.clientId) {
  return new ClientSecretCredential(sp.tenantId, clientId, secret, {
    authorityHost: stack.authorityHost,
    disableInstanceDiscovery: true,
  });
}

describe('Entra client-credentials stand-in', () => {
  it('issues a storage token carrying the service principal identity', async () => {
    const token = await credential().getToken('https://storage.azure.com/.default');
    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com',
      oid: sp.objectId,
      appid: sp.clientId,
      tid: sp.tenantId,
      iss: `https://sts.windows.net/${sp.tenantId}/`,
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 600_000);
  });

  it('fails a wrong secret with invalid_client (AADSTS7000215)', async () => {
    await expect(credential('not-the-secret').getToken('https://storage.azure.com/.default')).rejects.toThrow(
      /invalid_client[\s\S]*AADSTS7000215/,
    );
  });

  it('fails an application unknown in the tenant with AADSTS700016', async () => {
    await expect(
      credential(sp.clientSecret, '00000000-0000-0000-0000-000000000000').getToken(
        'https://storage.azure.com/.default',
      ),
    ).rejects.toThrow(/AADSTS700016/);
  });

  it('publishes OIDC metadata whose issuer shares the authority origin', async () => {
    const res = await fetch(`${stack.authorityHost}/${sp.tenantId}/v2.0/.well-known/openid-configuration`);
    const doc = (await res.json()) as Record<string, string>;
    expect(new URL(doc.issuer!).origin).toBe(new URL(stack.authorityHost).origin);
    expect(doc.token_endpoint).toBe(`${stack.authorityHost}/${sp.tenantId}/oauth2/v2.0/token`);
  });
});

describe('PDG storage through the service principal', () => {
  it('writes, lists and reads a blob in the PDG default container over HTTPS', async () => {
    const container = new ContainerClient(pdg.containerUrl.replace(/\/$/, ''), credential());
    expect(container.containerName).toBe('default');
    expect(container.accountName).toBe(pdg.account);
    const name = `contract/sp-${Date.now()}.bin`;
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    await container.getBlockBlobClient(name).uploadStream(Readable.from([data]), 1 << 20, 2);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'contract/' })) names.push(b.name);
    expect(names).toContain(name);
    const back = await container.getBlockBlobClient(name).downloadToBuffer();
    expect(back.equals(data)).toBe(true);
    await container.getBlockBlobClient(name).delete();
  });
});
