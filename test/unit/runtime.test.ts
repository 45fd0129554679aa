/**
 * Guards the runtime the suite runs on: Node 22 or newer, as package.json's engines declares and the `node@22`
 * devDependency provides to every npm script.
 */
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json';

describe('runtime', () => {
  it('runs the tests on Node 22 or newer, as package.json engines declares', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(pkg.engines.node).toBe('>=22');
    expect(major).toBeGreaterThanOrEqual(22);
  });
});
