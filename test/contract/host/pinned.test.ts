// The local host relies on the core-module contract and the InvocationModel of these exact versions;
// an upgrade must be a deliberate change that re-runs the host contract tests.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(__filename);

describe('pinned library versions', () => {
  it('uses @azure/functions 4.16.5', () => {
    expect(require('@azure/functions/package.json').version).toBe('4.16.5');
  });
  it('uses durable-functions 3.5.0', () => {
    expect(require('durable-functions/package.json').version).toBe('3.5.0');
  });
});
