// test/support/bicep.ts evaluates the function app's settings from the templates the way a deployment does
// (azd environment → main.parameters.json → main.bicep → app/api.bicep → siteConfig.appSettings). These checks
// pin the evaluation itself, so the end-to-end test that runs the package with those settings can trust it.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../shared/config.js';
import { type DeploymentInputs, deployedAppSettings } from '../../support/bicep.js';

const infraDir = path.resolve(__dirname, '../../../infra');

/** What Azure would report for the resources (sample values in Azure's own formats). */
const resources: DeploymentInputs['resources'] = {
  'storage.properties.primaryEndpoints.blob': 'https://stgemflowabc.blob.core.windows.net/',
  'storage.properties.primaryEndpoints.queue': 'https://stgemflowabc.queue.core.windows.net/',
  'storage.properties.primaryEndpoints.table': 'https://stgemflowabc.table.core.windows.net/',
  'identity.outputs.clientId': '00000000-0000-4000-8000-000000000001',
  'keyVault.outputs.uri': 'https://kv-gemflow-abc.vault.azure.net/',
  'monitoring.outputs.connectionString': 'InstrumentationKey=00000000-0000-4000-8000-000000000002',
};

describe('the settings a deployment gives the function app', () => {
  it('follows the templates from the azd environment: literals, params, derived names and interpolations', async () => {
    const settings = await deployedAppSettings({
      infraDir,
      azdEnvironment: { AZURE_ENV_NAME: 'Gem-Flow_prod.1', AZURE_LOCATION: 'swedencentral' },
      resources,
    });
    expect(settings).toMatchObject({
      AzureWebJobsStorage__blobServiceUri: 'https://stgemflowabc.blob.core.windows.net/',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: resources['identity.outputs.clientId'],
      // main.bicep: take('gemflow' + the environment name lower-cased without '-', '_', '.', 45)
      TASKHUB_NAME: 'gemflowgemflowprod1',
      INBOX_CONTAINER: 'inbox',
      SWEEP_SCHEDULE: '0 */15 * * * *',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${resources['identity.outputs.clientId']};Authorization=AAD`,
      KEY_VAULT_URL: 'https://kv-gemflow-abc.vault.azure.net/',
      TOMTOM_API_BASE_URL: 'https://api.tomtom.com',
      TOMTOM_API_KEY_SECRET_NAME: 'tomtom-api-key',
    });
    // Empty azd values leave the optional defaults out (an empty app setting would not read as unset).
    expect(settings).not.toHaveProperty('DEFAULT_STORAGE_ID');
    expect(() => loadSettings(settings)).not.toThrow();
  });

  it('takes the optional settings and the TomTom host from the azd environment when given', async () => {
    const settings = await deployedAppSettings({
      infraDir,
      azdEnvironment: {
        AZURE_ENV_NAME: 'prod',
        AZURE_LOCATION: 'westeurope',
        DEFAULT_STORAGE_ID: 'storage-009',
        TOMTOM_API_BASE_URL: 'https://api.example.tomtom.com',
      },
      resources,
    });
    expect(settings.DEFAULT_STORAGE_ID).toBe('storage-009');
    expect(settings.TOMTOM_API_BASE_URL).toBe('https://api.example.tomtom.com');
    expect(settings).not.toHaveProperty('DEFAULT_OVERTURE_RELEASE');
  });

  it('names a resource value the caller did not give, instead of guessing it', async () => {
    const { 'keyVault.outputs.uri': _missing, ...partial } = resources;
    await expect(
      deployedAppSettings({
        infraDir,
        azdEnvironment: { AZURE_ENV_NAME: 'x', AZURE_LOCATION: 'y' },
        resources: partial,
      }),
    ).rejects.toThrow(/keyVault\.outputs\.uri is known only in Azure/);
  });
});
