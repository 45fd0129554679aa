// No Bicep compiler installs from the npm registry or Debian (it ships from GitHub and NuGet), so the
// templates are parsed with the Bicep tree-sitter grammar instead: a real parser that rejects malformed
// syntax. Types, resource API versions and module parameters are checked structurally in bicep.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Language, type Node, Parser } from 'web-tree-sitter';

const infra = path.join(__dirname, '../../../infra');
const templates = readdirSync(infra, { recursive: true, encoding: 'utf8' }).filter((f) =>
  f.endsWith('.bicep'),
);

let parser: Parser;

beforeAll(async () => {
  await Parser.init();
  const bicep = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
  parser = new Parser();
  parser.setLanguage(bicep);
});

function syntaxErrors(source: string): string[] {
  const tree = parser.parse(source);
  if (!tree) throw new Error('the parser returned no tree');
  const errors: string[] = [];
  const visit = (node: Node) => {
    if (node.type === 'ERROR' || node.isMissing) {
      const where = `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
      errors.push(
        `${node.isMissing ? `missing ${node.type}` : 'syntax error'} at ${where}: ${node.text.slice(0, 60)}`,
      );
    }
    for (const child of node.children) if (child) visit(child);
  };
  visit(tree.rootNode);
  return errors;
}

describe('Bicep syntax', () => {
  it('finds the templates', () => {
    expect(templates).toContain('main.bicep');
    expect(templates.length).toBeGreaterThan(1);
  });

  it.each(templates)('%s parses without errors', (template) => {
    expect(syntaxErrors(readFileSync(path.join(infra, template), 'utf8'))).toEqual([]);
  });

  it('reports a malformed template (the check can fail)', () => {
    const broken =
      "param location string = resourceGroup().location\nresource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n  location: location\n";
    expect(syntaxErrors(broken).length).toBeGreaterThan(0);
  });
});
