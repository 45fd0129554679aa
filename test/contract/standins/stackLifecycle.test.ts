/**
 * startStack() as npm start uses it: a second, independent stack inside this worker (new directory, so a new
 * certificate trusted only through tls.setDefaultCACertificates). Its readiness time is printed, not
 * asserted. After close(), no process it started may remain.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { readStackJson, type Stack, startStack, updateStackJson } from '../../../local/standins/stack.js';
import { settingDefinitions } from '../../../shared/config.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-stack-'));
let stack: Stack | undefined;

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Child pids of this process, from /proc (Linux); undefined elsewhere. */
function childPids(): number[] | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids.sort();
}

describe('startStack', () => {
  const childrenBefore = childPids();

  it('starts everything and describes it in settings and stack.json', async () => {
    const t0 = performance.now();
    stack = await startStack({ dir, timeScale: 60 });
    const ms = Math.round(performance.now() - t0);
    console.log(`[stack] startStack() ready in ${ms} ms (internal figure ${stack.info.startupMs} ms)`);

    const s = stack.settings;
    expect(Object.keys(s).sort()).toEqual(
      [
        'AzureWebJobsStorage',
        'IDENTITY_ENDPOINT',
        'IDENTITY_HEADER',
        'AZURE_CLIENT_ID',
        'KEY_VAULT_URL',
        'TOMTOM_API_KEY_SECRET_NAME',
        'KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION',
        'TOMTOM_API_BASE_URL',
        'TOMTOM_VAULT_URL',
        'AZURE_AUTHORITY_HOST',
        'PDG_DISABLE_INSTANCE_DISCOVERY',
        'TOKEN_CREDENTIAL',
        'DEFAULT_STORAGE_ID',
        'DEFAULT_OVERTURE_RELEASE',
        'INBOX_CONTAINER',
        'OUTBOX_CONTAINER',
        'SWEEP_SCHEDULE',
        'RETENTION_SCHEDULE',
        'ARCHIVE_CONTAINER',
        'NODE_EXTRA_CA_CERTS',
        'LOCAL_TIME_SCALE',
        'LOCAL_TIME_EPOCH_MS',
        'LOCAL_TIME_VIRTUAL_EPOCH_MS',
        'TASKHUB_NAME',
        'NOTIFY_SIGNING_SECRET',
      ].sort(),
    );
    expect(s.LOCAL_TIME_SCALE).toBe('60');
    // Every setting a trigger reads as %NAME% is set: the host applies no default to binding expressions.
    for (const { name } of settingDefinitions.filter((d) => d.binding)) expect(s[name], name).toBeTruthy();
    expect(Number(s.LOCAL_TIME_EPOCH_MS)).toBe(stack.clock.epochMs);
    // A fresh stack's virtual time starts at real time.
    expect(Number(s.LOCAL_TIME_VIRTUAL_EPOCH_MS)).toBe(stack.clock.epochMs);
    expect(s.TOMTOM_VAULT_URL).toBe(s.TOMTOM_API_BASE_URL);
    expect(s.NODE_EXTRA_CA_CERTS).toBe(join(dir, 'tls', 'ca-bundle.pem'));
    expect(readFileSync(s.NODE_EXTRA_CA_CERTS!, 'utf8')).toContain(stack.tls.cert.trim());
    expect(stack.info.apiKey).toMatch(/^gemflow-local-[0-9a-f]{32}$/);

    const json = readStackJson(dir);
    for (const key of [
      'simulatorUrl',
      'simulatorAdminUrl',
      'identityEndpoint',
      'identityHeader',
      'authorityHost',
      'keyVaultUrl',
      'apiKey',
      'storageConnectionString',
      'inboxContainer',
      'outboxContainer',
      'archiveContainer',
      'pdgStorageId',
      'caFile',
      'timeScale',
      'settings',
      'pids',
    ]) {
      expect(json, key).toHaveProperty(key);
    }
    expect(json.pids.azurite).toBe(stack.azurite.pid);
    updateStackJson(dir, { functionsBaseUrl: 'http://127.0.0.1:7071', functionKey: 'k' });
    expect(readStackJson<{ functionsBaseUrl: string }>(dir).functionsBaseUrl).toBe('http://127.0.0.1:7071');
    expect(readStackJson(dir).apiKey).toBe(stack.info.apiKey);
  });

  it('provisions the API key in Key Vault and the PDG storage for its service principal', async () => {
    const s = stack!;
    const token = await s.identity.issueToken({
      aud: 'https://vault.azure.net',
      oid: s.info.managedIdentity.objectId,
    });
    const kv = new SecretClient(
      s.info.keyVaultUrl,
      { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) },
      { disableChallengeResourceVerification: true },
    );
    expect((await kv.getSecret('tomtom-api-key')).value).toBe(s.info.apiKey);

    const pdg = s.info.pdgStorages[0]!;
    expect(pdg.account).toBe('pdgstorage001');
    expect(pdg.allowedObjectIds).toEqual([s.info.managedIdentity.objectId, s.info.systemIdentity.objectId]);
    const sp = pdg.servicePrincipal;
    const container = new ContainerClient(
      pdg.containerUrl,
      new ClientSecretCredential(sp.tenantId, sp.clientId, sp.clientSecret, {
        authorityHost: s.info.authorityHost,
        disableInstanceDiscovery: true,
      }),
    );
    await container.getBlockBlobClient('probe.txt').upload('x', 1);
    expect(await container.getBlockBlobClient('probe.txt').exists()).toBe(true);

    const table = TableClient.fromConnectionString(s.settings.AzureWebJobsStorage!, 'lifecycle');
    await table.createTable();
    await table.createEntity({ partitionKey: 'a', rowKey: 'b' });
    expect((await table.getEntity('a', 'b')).rowKey).toBe('b');
  });

  it('close() stops Azurite and every server, leaving no process behind', async () => {
    const s = stack!;
    const pid = s.azurite.pid;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await s.close();
    stack = undefined;
    let code: string | undefined;
    try {
      process.kill(pid, 0);
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
    }
    expect(code).toBe('ESRCH');
    if (childrenBefore) expect(childPids()).toEqual(childrenBefore);
    expect(existsSync(join(dir, 'stack.json'))).toBe(false);
    // The CA bundle stays: late processes launched with NODE_EXTRA_CA_CERTS would warn if it vanished.
    expect(existsSync(join(dir, 'tls', 'ca-bundle.pem'))).toBe(true);
    await expect(fetch(s.info.keyVaultUrl)).rejects.toThrow();
    await s.close(); // idempotent
  });
});
