/**
 * The app's managed identity through the real @azure/identity clients, against the App Service MI endpoint
 * of the stack started by the global setup (IDENTITY_ENDPOINT/IDENTITY_HEADER/AZURE_CLIENT_ID are in this
 * worker's environment). MSAL caches MI tokens process-wide and latches the endpoint once per process, so
 * each test asks for a different resource and nothing here changes the endpoint.
 */
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import { describe, expect, inject, it } from 'vitest';

const stack = inject('stack');

async function verifyWithStackKeys(token: string, audience: string) {
  const res = await fetch(`${stack.authorityHost}/${stack.tenantId}/discovery/v2.0/keys`);
  expect(res.status).toBe(200);
  const { payload } = await jwtVerify(token, createLocalJWKSet((await res.json()) as JSONWebKeySet), {
    audience,
  });
  return payload;
}

describe('managed identity endpoint (App Service protocol)', () => {
  it('gives ManagedIdentityCredential({ clientId }) a signed token for the GEM audience as the user-assigned identity', async () => {
    const credential = new ManagedIdentityCredential({ clientId: stack.managedIdentity.clientId });
    const token = await credential.getToken(`${stack.gemAudience}/.default`);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 600_000);
    const claims = await verifyWithStackKeys(token.token, stack.gemAudience);
    expect(claims).toMatchObject({
      aud: stack.gemAudience,
      oid: stack.managedIdentity.objectId,
      appid: stack.managedIdentity.clientId,
      tid: stack.tenantId,
      iss: `https://sts.windows.net/${stack.tenantId}/`,
    });
  });

  it('gives DefaultAzureCredential the identity named by AZURE_CLIENT_ID', async () => {
    expect(process.env.AZURE_CLIENT_ID).toBe(stack.managedIdentity.clientId);
    const token = await new DefaultAzureCredential().getToken('https://vault.azure.net/.default');
    const claims = decodeJwt(token.token);
    expect(claims.aud).toBe('https://vault.azure.net');
    expect(claims.oid).toBe(stack.managedIdentity.objectId);
  });

  it('answers as the system-assigned identity when no client id is given', async () => {
    const token = await new ManagedIdentityCredential().getToken('https://system-assigned.example/.default');
    const claims = decodeJwt(token.token);
    expect(claims.oid).toBe(stack.systemIdentity.objectId);
    expect(claims.aud).toBe('https://system-assigned.example');
  });

  it('rejects an unknown user-assigned client id with a 4xx, so the SDK fails fast', async () => {
    const credential = new ManagedIdentityCredential({ clientId: 'no-such-identity' });
    await expect(credential.getToken('https://unknown-identity.example/.default')).rejects.toThrow(
      /No Managed Identity found/,
    );
  });

  it('refuses a request without the X-IDENTITY-HEADER secret', async () => {
    const res = await fetch(
      `${stack.identityEndpoint}?api-version=2019-08-01&resource=https://storage.azure.com`,
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: expect.stringMatching(/X-IDENTITY-HEADER/) });
  });

  it('serves the token it cached for an identity and resource again, as the platform does', async () => {
    // App Service's back end caches a managed identity's token per resource (about 24 hours) and cannot be
    // told to issue another before it expires:
    // https://learn.microsoft.com/azure/app-service/overview-managed-identity#configure-target-resource
    const ask = async (resource: string) => {
      const url = new URL(stack.identityEndpoint);
      url.searchParams.set('api-version', '2019-08-01');
      url.searchParams.set('resource', resource);
      url.searchParams.set('client_id', stack.managedIdentity.clientId);
      const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': stack.identityHeader } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const first = await ask('https://cached-resource.example');
    expect(await ask('https://cached-resource.example')).toBe(first);
    expect(await ask('https://another-resource.example')).not.toBe(first);
  });

  it('tokens open the app storage account through Azurite OAuth (identity-based AzureWebJobsStorage)', async () => {
    const credential = new ManagedIdentityCredential({ clientId: stack.managedIdentity.clientId });
    const service = new BlobServiceClient(stack.blobUrl, credential);
    const container = service.getContainerClient(stack.inboxContainer);
    expect(await container.exists()).toBe(true);
    const blob = container.getBlockBlobClient(`contract/mi-${Date.now()}.txt`);
    await blob.upload('via managed identity', 20);
    expect((await blob.downloadToBuffer()).toString()).toBe('via managed identity');
    await blob.delete();
  });
});
