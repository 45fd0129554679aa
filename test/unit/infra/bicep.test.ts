// Structural checks of infra/ (no Bicep compiler can be installed here: the CLI is a .NET binary
// downloaded from GitHub, and neither the npm registry nor Debian packages it). These catch what a
// compile would for this project's files: unbalanced brackets, missing or misnamed module files,
// params and outputs, unused params, plus the security rules the templates must keep.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEPLOY_DIR } from '../../../scripts/package.js';
import { maskBicep, matchingBracket, modules, outputs, params, unbalancedBracket } from './bicep.js';

const root = path.resolve(__dirname, '../../..');
const infra = path.join(root, 'infra');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(full);
    return entry.name.endsWith('.bicep') ? [full] : [];
  });
}

const files = bicepFiles(infra).map((file) => {
  const source = readFileSync(file, 'utf8');
  return { file, rel: path.relative(root, file), source, masked: maskBicep(source) };
});
const byPath = new Map(files.map((f) => [f.file, f]));
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');

describe('bicep reader', () => {
  it('masks strings and comments but keeps interpolated expressions', () => {
    const masked = maskBicep(`var a = '\${b}-{x' // {\nvar c = { d: 'e}' }\n`);
    expect(unbalancedBracket(masked)).toBeUndefined();
    expect(masked).toContain('b');
    expect(masked).not.toContain('{x');
    expect(unbalancedBracket(maskBicep('var a = {\n  b: [1, 2\n}\n'))).toMatch(/unexpected "}" on line 3/);
  });
});

describe('infra/*.bicep structure', () => {
  it('has the main template and its modules', () => {
    expect(files.map((f) => f.rel).sort()).toEqual(
      [
        'infra/app/api.bicep',
        'infra/app/deadletter.bicep',
        'infra/app/keyvault.bicep',
        'infra/app/rbac.bicep',
        'infra/main.bicep',
      ].sort(),
    );
  });

  for (const { rel, masked } of files) {
    it(`${rel}: brackets balance`, () => {
      expect(unbalancedBracket(masked)).toBeUndefined();
    });

    it(`${rel}: every param is used`, () => {
      for (const { name } of params(masked)) {
        const uses = masked.match(new RegExp(`(?<![.\\w])${name}(?!\\w)`, 'g')) ?? [];
        expect(uses.length, `param ${name} is declared but never used`).toBeGreaterThan(1);
      }
    });
  }

  it('modules: local files exist and get exactly their params; registry modules are pinned AVM versions', () => {
    for (const { file, source, masked } of files) {
      for (const mod of modules(source, masked)) {
        if (mod.path.startsWith('br/')) {
          expect(mod.path, `${mod.symbol}`).toMatch(
            /^br\/public:avm\/(res|ptn|utl)\/[a-z0-9/-]+:\d+\.\d+\.\d+$/,
          );
          continue;
        }
        const target = path.resolve(path.dirname(file), mod.path);
        expect(existsSync(target), `${mod.symbol}: ${mod.path}`).toBe(true);
        const declared = params(byPath.get(target)?.masked ?? '');
        const names = declared.map((p) => p.name);
        for (const key of mod.params)
          expect(names, `${mod.symbol} passes unknown param ${key}`).toContain(key);
        for (const p of declared.filter((d) => !d.hasDefault)) {
          expect(mod.params, `${mod.symbol} misses required param ${p.name}`).toContain(p.name);
        }
      }
    }
  });

  it('module outputs referenced exist in the local module', () => {
    for (const { file, source, masked } of files) {
      const local = modules(source, masked).filter((m) => !m.path.startsWith('br/'));
      for (const mod of local) {
        const target = byPath.get(path.resolve(path.dirname(file), mod.path));
        const declared = outputs(target?.masked ?? '');
        for (const m of masked.matchAll(
          new RegExp(`\\b${mod.symbol}\\.outputs\\.([A-Za-z_][A-Za-z0-9_]*)`, 'g'),
        )) {
          expect(declared, `${mod.symbol}.outputs.${m[1]}`).toContain(m[1]);
        }
      }
    }
  });

  it('main.parameters.json maps only declared params and every required one', () => {
    const main = byPath.get(path.join(infra, 'main.bicep'));
    const declared = params(main?.masked ?? '');
    const mapped = Object.keys(
      (JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> }).parameters,
    );
    for (const name of mapped) expect(declared.map((p) => p.name)).toContain(name);
    for (const p of declared.filter((d) => !d.hasDefault)) expect(mapped).toContain(p.name);
  });
});

describe('infra security and platform rules', () => {
  const all = files.map((f) => maskBicep(f.source, { keepStrings: true })).join('\n');
  const main = read('infra/main.bicep');
  const api = read('infra/app/api.bicep');
  const vault = read('infra/app/keyvault.bicep');

  it('never reads account keys or builds connection strings', () => {
    expect(all).not.toMatch(
      /listKeys|listAccountSas|listServiceSas|AccountKey=|DefaultEndpointsProtocol|SharedAccessSignature/i,
    );
    expect(all).not.toMatch(/StorageAccountConnectionString/i);
  });

  it('storage: shared keys off, TLS 1.2, no public blob access, inbox/outbox/deployment/dead-letter containers', () => {
    expect(main).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(main).toMatch(/allowBlobPublicAccess:\s*false/);
    expect(main).toMatch(/minimumTlsVersion:\s*'TLS1_2'/);
    expect(main).toMatch(/\{ name: deploymentContainerName \}/);
    expect(main).toMatch(/\{ name: inboxContainerName \}/);
    expect(main).toMatch(/\{ name: outboxContainerName \}/);
    expect(main).toMatch(/\{ name: deadLetterContainerName \}/);
  });

  it('dead letters: the system topic has its own identity, with blob write access to that container only', () => {
    const deadLetter = read('infra/app/deadletter.bicep');
    expect(main).toMatch(/managedIdentities:\s*\{\s*systemAssigned: true\s*\}/);
    expect(main).toMatch(/principalId: eventGridTopic\.outputs\.systemAssignedMIPrincipalId/);
    expect(main).toMatch(/containerName: deadLetterContainerName/);
    // Storage Blob Data Contributor, scoped to the container resource, not the account.
    expect(deadLetter).toContain("'ba92f5b4-2d11-453d-a403-e96b0029c9fe'");
    expect(deadLetter).toMatch(/scope: container\n/);
    expect(deadLetter).toMatch(/blobServices\/containers@[\d-]+' existing/);
    expect(deadLetter).not.toMatch(/scope: storageAccount/);
    for (const name of [
      'AZURE_STORAGE_ACCOUNT_ID',
      'EVENTGRID_DEADLETTER_CONTAINER',
      'EVENTGRID_TRIGGER_FUNCTION_NAME',
    ])
      expect(outputs(maskBicep(main))).toContain(name);
  });

  it('archive: its own container, passed to the app, with a lifecycle rule that tiers and never deletes', () => {
    expect(main).toMatch(/\{ name: archiveContainerName \}/);
    expect(main).toMatch(/archiveContainerName: archiveContainerName/);
    expect(api).toMatch(/ARCHIVE_CONTAINER: archiveContainerName/);
    const rule = /managementPolicyRules: \[([\s\S]*?)\n {4}\]/.exec(main)?.[1] ?? '';
    expect(rule).toMatch(/prefixMatch: \[\s*'\$\{archiveContainerName\}\/'/);
    expect(rule).toMatch(/tierToCool/);
    expect(rule).not.toMatch(/delete/i);
  });

  it('Key Vault: RBAC, soft delete, purge protection; placeholder key, never a real one', () => {
    expect(vault).toMatch(/enableRbacAuthorization:\s*true/);
    expect(vault).toMatch(/enableSoftDelete:\s*true/);
    expect(vault).toMatch(/enablePurgeProtection:\s*true/);
    expect(main).toMatch(/param tomtomApiKeyPlaceholder string = 'replace-me'/);
    expect(main).toMatch(/param notifySigningSecret string = '\$\{newGuid\(\)\}/);
  });

  it('function app: Flex FC1, Node 22, user-assigned identity for deployment, durable always-ready 1', () => {
    expect(main).toMatch(/name: 'FC1'\s+tier: 'FlexConsumption'/);
    expect(api).toMatch(/runtime:\s*\{\s*name: 'node'\s+version: '22'\s*\}/);
    expect(api).toMatch(/type: 'UserAssignedIdentity'/);
    expect(api).toMatch(/alwaysReady:\s*\[\s*\{\s*name: 'durable'\s+instanceCount: 1\s*\}\s*\]/);
    expect(api).toMatch(/items\(union\(appSettings, optionalAppSettings\)\)/);
    expect(main).toMatch(/'azd-service-name': 'api'/);
  });

  it('Application Insights with local auth disabled; Event Grid system topic on the storage account', () => {
    expect(main).toMatch(/disableLocalAuth:\s*true/);
    expect(main).toMatch(/topicType: 'Microsoft\.Storage\.StorageAccounts'/);
  });

  it('Entra sign-in (App Service Authentication): off unless a client id is given, no secret, Event Grid let through', () => {
    const apiMasked = maskBicep(api, { keepStrings: true });
    expect(params(maskBicep(api)).find((p) => p.name === 'authClientId')?.hasDefault).toBe(true);
    expect(api).toMatch(/param authClientId string = ''/);
    const start = api.indexOf("resource auth 'Microsoft.Web/sites/config@");
    expect(start, 'api.bicep declares the authsettingsV2 resource').toBeGreaterThan(0);
    const block = api.slice(start, matchingBracket(apiMasked, apiMasked.indexOf('{', start)) + 1);
    expect(block).toMatch(/= if \(!empty\(authClientId\)\) \{/);
    expect(block).toMatch(/name: 'authsettingsV2'/);
    expect(block).toMatch(/requireAuthentication: true/);
    expect(block).toMatch(/unauthenticatedClientAction: 'RedirectToLoginPage'/);
    expect(block).toMatch(/redirectToProvider: 'azureactivedirectory'/);
    expect(block).toMatch(/clientId: authClientId/);
    expect(block).toMatch(
      /openIdIssuer: '\$\{environment\(\)\.authentication\.loginEndpoint\}\$\{authTenantId\}\/v2\.0'/,
    );
    // No client secret anywhere: not in the auth config, not as an app setting it would name.
    expect(block).not.toMatch(/clientSecret/i);
    expect(api).not.toMatch(/MICROSOFT_PROVIDER_AUTHENTICATION_SECRET/);
    // Event Grid's webhook (the subscription scripts/post-deploy.sh creates) carries its own key and cannot sign in.
    expect(api).toMatch(
      /param authExcludedPaths array = \[\s*'\/runtime\/webhooks\/eventgrid'\s*'\/api\/health'\s*\]/,
    );
    expect(block).toMatch(/excludedPaths: authExcludedPaths/);
    // main.bicep takes it from the azd environment, empty unless set.
    expect(main).toMatch(/param authClientId string = ''/);
    expect(main).toMatch(/authClientId: authClientId/);
    const parameters = JSON.parse(read('infra/main.parameters.json')).parameters;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: azd's substitution syntax, not a template
    expect(parameters.authClientId).toEqual({ value: '${GEMFLOW_AUTH_CLIENT_ID=}' });
  });

  it('roles: Durable storage roles, Key Vault Secrets User, Monitoring Metrics Publisher', () => {
    const rbac = read('infra/app/rbac.bicep');
    for (const id of [
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', // Storage Blob Data Owner
      '974c5e8b-45b9-4653-ba55-5f855dd0fb88', // Storage Queue Data Contributor
      '0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3b', // Storage Table Data Contributor
      '4633458b-17de-408a-b874-0445c86b69e6', // Key Vault Secrets User
      '3913510d-42f4-4e42-8a64-420c390055eb', // Monitoring Metrics Publisher
    ]) {
      expect(rbac).toContain(id);
    }
  });

  it('roles: Storage Blob Delegator for the identity only, on the inbox account blob service, nothing wider', () => {
    const rbac = read('infra/app/rbac.bicep');
    const delegatorId = 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a';
    expect(rbac).toMatch(new RegExp(`storageBlobDelegator:\\s*'${delegatorId}'`));
    expect(rbac.split(delegatorId)).toHaveLength(2);
    // One chunk per top-level resource: its declaration line and body, up to the next declaration.
    const resources = rbac.split(/\n(?=resource )/).filter((chunk) => chunk.startsWith('resource '));
    const delegator = resources.filter((chunk) => chunk.includes('roles.storageBlobDelegator'));
    expect(delegator.map((chunk) => chunk.split(' ')[1])).toEqual(['identityDelegator']);
    const body = delegator[0]!;
    expect(body).toMatch(
      /^resource identityDelegator 'Microsoft\.Authorization\/roleAssignments@[^']+' = \{\n/,
    );
    expect(body).toMatch(/scope: blobService\n/);
    expect(body).toMatch(/principalId: identityPrincipalId\n/);
    expect(rbac).toMatch(
      /resource blobService 'Microsoft\.Storage\/storageAccounts\/blobServices@[^']+' existing = \{\s*parent: storageAccount\s*name: 'default'/,
    );
    // The storage account is the one rbac.bicep is given: the app's own, which holds the inbox container.
    expect(main).toMatch(/module rbac 'app\/rbac\.bicep'[\s\S]*?storageAccountName: storage\.outputs\.name/);
  });
});

describe('azure.yaml, hooks and host.json', () => {
  const yaml = read('azure.yaml');

  it('service api: function host, TypeScript, local build, ships the staged package', () => {
    expect(yaml).toMatch(/services:\s+api:\s+project: \.\s+language: ts\s+host: function/);
    expect(yaml).toMatch(/remoteBuild: false/);
    expect(yaml).toContain(`dist: ${DEPLOY_DIR}`);
  });

  it('every hook script exists (posix ones executable)', () => {
    const scripts = [...yaml.matchAll(/run: \.\/(scripts\/[\w.-]+)/g)].map((m) => m[1]);
    expect(scripts).toEqual(
      expect.arrayContaining([
        'scripts/post-deploy.sh',
        'scripts/post-deploy.ps1',
        'scripts/pre-provision.sh',
        'scripts/pre-provision.ps1',
      ]),
    );
    for (const script of scripts) {
      expect(existsSync(path.join(root, script)), script).toBe(true);
      if (script.endsWith('.sh')) expect(statSync(path.join(root, script)).mode & 0o111, script).not.toBe(0);
    }
  });

  it('post-deploy subscribes the Event Grid trigger with the eventgrid_extension key, without printing it', () => {
    for (const script of ['scripts/post-deploy.sh', 'scripts/post-deploy.ps1']) {
      const text = read(script);
      expect(text).toContain('systemKeys.eventgrid_extension');
      expect(text).toMatch(/runtime\/webhooks\/eventgrid\?functionName=\$\w+&code=\$\w+/);
      expect(text).not.toMatch(/blobs_extension|runtime\/webhooks\/blobs/);
      expect(text).not.toMatch(/(echo|Write-Host)[^\n]*\$(key|endpoint)\b/);
    }
  });

  it('host.json: task hub from %TASKHUB_NAME%, AzureWebJobsStorage, polling ≤ 10 s, no inputs in traces', () => {
    const host = JSON.parse(read('host.json'));
    const durable = host.extensions.durableTask;
    expect(host.extensions.http.routePrefix).toBe('api');
    expect(durable.hubName).toBe('%TASKHUB_NAME%');
    expect(durable.storageProvider.connectionName).toBe('AzureWebJobsStorage');
    const [h, m, s] = String(durable.storageProvider.maxQueuePollingInterval).split(':').map(Number);
    expect(h * 3600 + m * 60 + s).toBeLessThanOrEqual(10);
    expect(durable.tracing.traceInputsAndOutputs).toBe(false);
    expect(durable.maxConcurrentActivityFunctions).toBeGreaterThan(0);
    expect(durable.maxConcurrentOrchestratorFunctions).toBeGreaterThan(0);
    expect(host.extensionBundle.version).toBe('[4.*, 5.0.0)');
  });
});
