/**
 * vitest globalSetup for the integration project: starts the offline stack once (in memory, compressed
 * time) and exports its settings into process.env. The forked test workers start after this returns, so
 * they inherit the environment — NODE_EXTRA_CA_CERTS in particular, which Node reads only at startup.
 */
import type { TestProject } from 'vitest/node';
import { type StackInfo, startStack } from '../../local/standins/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** Variables that would make DefaultAzureCredential pick something other than the local managed identity. */
const FOREIGN_CREDENTIAL_VARS = [
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_USERNAME',
  'AZURE_PASSWORD',
  'AZURE_TOKEN_CREDENTIALS',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IMDS_ENDPOINT',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST',
];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const timeScale = Number(process.env.GEMFLOW_TEST_TIME_SCALE ?? 600);
  const stack = await startStack({ dir: '.local/test-stack', persistent: false, timeScale });
  for (const name of FOREIGN_CREDENTIAL_VARS) delete process.env[name];
  Object.assign(process.env, stack.settings);
  project.provide('stack', stack.info);
  console.log(`[stack] offline stack ready in ${stack.info.startupMs} ms (time scale ${timeScale})`);
  return () => closeWithin(stack.close(), 30_000);
}

/** vitest waits for global teardown without a deadline; a stand-in that never closes must not hang the run. */
async function closeWithin(closing: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      console.warn(`[stack] the offline stack did not close within ${ms} ms; leaving it to the process exit`);
      resolve();
    }, ms);
  });
  try {
    await Promise.race([closing, late]);
  } finally {
    clearTimeout(timer);
  }
}
