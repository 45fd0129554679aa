// No Bicep compiler installs from the npm registry or Debian (it ships from GitHub and NuGet), so the
// templates are parsed with the Bicep tree-sitter grammar instead: a real parser that rejects malformed
// syntax. Types, resource API versions and module parameters are checked structurally in bicep.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Parser } from 'web-tree-sitter';
import { bicepParser, syntaxErrors } from '../../support/bicep.js';

const infra = path.join(__dirname, '../../../infra');
const templates = readdirSync(infra, { recursive: true, encoding: 'utf8' }).filter((f) =>
  f.endsWith('.bicep'),
);

let parser: Parser;

beforeAll(async () => {
  parser = await bicepParser();
});

describe('Bicep syntax', () => {
  it('finds the templates', () => {
    expect(templates).toContain('main.bicep');
    expect(templates.length).toBeGreaterThan(1);
  });

  it.each(templates)('%s parses without errors', (template) => {
    expect(syntaxErrors(parser, readFileSync(path.join(infra, template), 'utf8'))).toEqual([]);
  });

  it('reports a malformed template (the check can fail)', () => {
    const broken =
      "param location string = resourceGroup().location\nresource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n  location: location\n";
    expect(syntaxErrors(parser, broken).length).toBeGreaterThan(0);
  });
});
