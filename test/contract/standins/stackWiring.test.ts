/**
 * The stack wires the parts together the way the app will use them, with only settings from the
 * environment: a managed-identity token for the GEM audience plus the API key from Key Vault open the
 * simulator's PDG routes; the wrapped credentials unwrap to a service principal that the identity stand-in
 * knows and that reaches the PDG container in Azurite. (The simulator's own behaviour is tested in
 * simulator*.test.ts by its owner.)
 */
import { ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { ContainerClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';

const stack = inject('stack');
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; the integration global setup should have exported it`);
  return value;
};

async function tomtomHeaders(): Promise<Record<string, string>> {
  const credential = new ManagedIdentityCredential({ clientId: env('AZURE_CLIENT_ID') });
  const kv = new SecretClient(env('KEY_VAULT_URL'), credential, {
    disableChallengeResourceVerification: true,
  });
  const apiKey = (await kv.getSecret(env('TOMTOM_API_KEY_SECRET_NAME'))).value!;
  const token = await credential.getToken(`${stack.gemAudience}/.default`);
  return { 'tomtom-api-key': apiKey, authorization: `Bearer ${token.token}`, 'x-version': '1' };
}

describe('stack wiring', () => {
  it('lets the app identity and API key list the PDG storage on the simulator', async () => {
    const res = await fetch(`${env('TOMTOM_API_BASE_URL')}/maps/orbis/platform/private-gateway/storages`, {
      headers: await tomtomHeaders(),
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain(env('DEFAULT_STORAGE_ID'));
  });

  it('unwraps storage credentials to a service principal that writes into the PDG container', async () => {
    const storageId = env('DEFAULT_STORAGE_ID');
    const res = await fetch(
      `${env('TOMTOM_API_BASE_URL')}/maps/orbis/platform/private-gateway/storages/${storageId}/credentials?type=READ_WRITE`,
      { headers: await tomtomHeaders() },
    );
    expect(res.status).toBe(200);
    const text = (await res.text()).trim();
    const wrapped = text.startsWith('{') ? (JSON.parse(text) as { credentials: string }).credentials : text;

    const unwrap = await fetch(`${env('TOMTOM_VAULT_URL')}/v1/sys/wrapping/unwrap`, {
      method: 'POST',
      headers: { 'x-vault-token': wrapped },
    });
    expect(unwrap.status).toBe(200);
    const { data } = (await unwrap.json()) as {
      data: { credentials: { clientId: string; clientSecret: string }; tenant_id: string; url: string };
    };
    expect(data.url).toBe(stack.pdgStorages[0]!.containerUrl);

    const credential = new ClientSecretCredential(
      data.tenant_id,
      data.credentials.clientId,
      data.credentials.clientSecret,
      {
        authorityHost: env('AZURE_AUTHORITY_HOST'),
        disableInstanceDiscovery: env('PDG_DISABLE_INSTANCE_DISCOVERY') === 'true',
      },
    );
    const container = new ContainerClient(data.url, credential);
    const blob = container.getBlockBlobClient(`contract/wiring-${Date.now()}.txt`);
    await blob.upload('staged', 6);
    expect((await blob.downloadToBuffer()).toString()).toBe('staged');
    await blob.delete();
  });

  it('refuses the PDG-only key on GEM routes', async () => {
    const headers = { ...(await tomtomHeaders()), 'tomtom-api-key': stack.apiKeyWithoutGem };
    const res = await fetch(
      `${env('TOMTOM_API_BASE_URL')}/maps/orbis/platform/gem/jobs?job_type=ROAD_MATCHING`,
      {
        headers,
      },
    );
    expect(res.status).toBe(403);
  });
});
