/**
 * The project's Bicep, read with a real parser (the tree-sitter Bicep grammar; no Bicep compiler installs from
 * the npm registry) and evaluated far enough to know the function app's settings exactly as a deployment gives
 * them. `deployedAppSettings()` starts where azd does: the azd environment fills infra/main.parameters.json
 * (`${NAME}` / `${NAME=default}`, as azd's envsubst does: Azure/azure-dev cli/azd/pkg/infra/provisioning/bicep/
 * bicep_provider.go), main.bicep passes its params and variables to the `app/api.bicep` module, and the site's
 * `appSettings` array is evaluated from there. What only Azure can know (the storage account's endpoints, the
 * identity's client id, the vault's URI, the Application Insights connection string) must be given by the caller
 * as `resources`, keyed by the expression text (e.g. `storage.properties.primaryEndpoints.blob`); an expression
 * not covered throws, naming it. Unit tests (syntax) and end-to-end tests (settings) share this module.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Language, type Node, Parser } from 'web-tree-sitter';

let parserLoading: Promise<Parser> | undefined;

/** The Bicep parser (web-tree-sitter + tree-sitter-bicep's wasm), loaded once per process. */
export function bicepParser(): Promise<Parser> {
  parserLoading ??= (async () => {
    await Parser.init();
    const wasm = createRequire(__filename).resolve('tree-sitter-bicep/tree-sitter-bicep.wasm');
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })();
  return parserLoading;
}

function parse(parser: Parser, source: string): Node {
  const tree = parser.parse(source);
  if (!tree) throw new Error('the Bicep parser returned no tree');
  return tree.rootNode;
}

/** Syntax errors and missing tokens, as `line:column` messages; empty for a well-formed template. */
export function syntaxErrors(parser: Parser, source: string): string[] {
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
  visit(parse(parser, source));
  return errors;
}

type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

/** A template's declarations, each evaluated at most once, lazily. */
class Scope {
  private readonly params = new Map<string, Node | undefined>();
  private readonly vars = new Map<string, Node>();
  private readonly symbols = new Set<string>();
  private readonly memo = new Map<string, Value>();

  constructor(
    readonly file: string,
    readonly root: Node,
    private readonly given: Record<string, Value | (() => Value)>,
    private readonly resources: Record<string, Value>,
  ) {
    for (const node of root.namedChildren) {
      if (!node) continue;
      const name = node.namedChildren.find((c) => c?.type === 'identifier')?.text;
      if (!name) continue;
      if (node.type === 'parameter_declaration') params(this.params, node, name);
      else if (node.type === 'variable_declaration') this.vars.set(name, declaredValue(node));
      else if (node.type === 'resource_declaration' || node.type === 'module_declaration')
        this.symbols.add(name);
    }
  }

  lookup(name: string, locals: Map<string, Value>): Value {
    if (locals.has(name)) return locals.get(name)!;
    if (this.memo.has(name)) return this.memo.get(name)!;
    let value: Value;
    if (this.params.has(name)) {
      const given = this.given[name];
      const fallback = this.params.get(name);
      if (given !== undefined) value = typeof given === 'function' ? given() : given;
      else if (fallback) value = this.evaluate(fallback, locals);
      else throw new Error(`${this.file}: param ${name} has no value and no default`);
    } else if (this.vars.has(name)) {
      value = this.evaluate(this.vars.get(name)!, new Map());
    } else {
      throw new Error(`${this.file}: unknown name ${name}`);
    }
    this.memo.set(name, value);
    return value;
  }

  evaluate(node: Node, locals: Map<string, Value>): Value {
    return evaluateNode(this, node, locals);
  }

  /** `symbol.a.b` of a resource or module: what only Azure knows, from the caller; undefined for other names. */
  resource(path: string): Value | undefined {
    const root = path.split('.')[0]!;
    if (!this.symbols.has(root)) return undefined;
    const value = this.resources[path];
    if (value === undefined) {
      throw new Error(
        `${this.file}: ${path} is known only in Azure; give its local stand-in in \`resources\``,
      );
    }
    return value;
  }
}

function params(map: Map<string, Node | undefined>, node: Node, name: string): void {
  const children = node.children.filter(Boolean) as Node[];
  const equals = children.findIndex((c) => c.type === '=');
  map.set(name, equals === -1 ? undefined : children[equals + 1]);
}

/** The expression after `=` in a declaration. */
function declaredValue(node: Node): Node {
  const children = node.children.filter(Boolean) as Node[];
  const value = children[children.findIndex((c) => c.type === '=') + 1];
  if (!value) throw new Error(`no value in: ${node.text.slice(0, 80)}`);
  return value;
}

function named(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null && c.type !== 'comment');
}

function objectEntries(node: Node): [string, Node][] {
  return named(node)
    .filter((c) => c.type === 'object_property')
    .map((property) => {
      const [key, value] = named(property);
      const text = key!.type === 'string' ? key!.text.slice(1, -1) : key!.text;
      return [text, value!];
    });
}

/** `a.b.c` for a member chain of plain names, else undefined. */
function dottedPath(node: Node): string | undefined {
  if (node.type === 'identifier') return node.text;
  if (node.type !== 'member_expression') return undefined;
  const [object, property] = named(node);
  const left = object && dottedPath(object);
  return left && property ? `${left}.${property.text}` : undefined;
}

const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  union: (...objects) => Object.assign({}, ...(objects as object[])),
  items: (object) =>
    Object.keys(object as object)
      .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
      .map((key) => ({ key, value: (object as Record<string, Value>)[key]! })),
  empty: (value) =>
    value === null ||
    value === '' ||
    (Array.isArray(value)
      ? value.length === 0
      : typeof value === 'object' && Object.keys(value).length === 0),
  take: (value, count) => (value as string).slice(0, count as number),
  replace: (text, from, to) => (text as string).split(from as string).join(to as string),
  toLower: (text) => (text as string).toLowerCase(),
  toUpper: (text) => (text as string).toUpperCase(),
};

function evaluateNode(scope: Scope, node: Node, locals: Map<string, Value>): Value {
  const evaluate = (child: Node) => evaluateNode(scope, child, locals);
  switch (node.type) {
    case 'string':
      return named(node)
        .map((part) => {
          if (part.type === 'string_content') return part.text;
          if (part.type === 'escape_sequence') return part.text.slice(1);
          if (part.type === 'interpolation') return String(evaluate(named(part)[0]!));
          throw new Error(`${scope.file}: unsupported string part ${part.type}`);
        })
        .join('');
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'parenthesized_expression':
      return evaluate(named(node)[0]!);
    case 'identifier':
      return scope.lookup(node.text, locals);
    case 'object':
      return Object.fromEntries(objectEntries(node).map(([key, value]) => [key, evaluate(value)]));
    case 'array':
      return named(node).map(evaluate);
    case 'ternary_expression': {
      const [condition, whenTrue, whenFalse] = named(node);
      return evaluate(condition!) ? evaluate(whenTrue!) : evaluate(whenFalse!);
    }
    case 'member_expression': {
      const path = dottedPath(node);
      const known = path === undefined ? undefined : scope.resource(path);
      if (known !== undefined) return known;
      const [object, property] = named(node);
      return (evaluate(object!) as Record<string, Value>)[property!.text]!;
    }
    case 'call_expression': {
      const [callee, args] = named(node);
      const fn = FUNCTIONS[callee!.text];
      if (!fn) throw new Error(`${scope.file}: function ${callee!.text}() is not evaluated here`);
      return fn(...named(args!).map(evaluate));
    }
    case 'for_statement': {
      const [variable, iterable, body] = named(node);
      return (evaluate(iterable!) as Value[]).map((item) =>
        evaluateNode(scope, body!, new Map([...locals, [variable!.text, item]])),
      );
    }
    default:
      throw new Error(`${scope.file}: cannot evaluate ${node.type}: ${node.text.slice(0, 80)}`);
  }
}

/** Finds `key: value` in the object literals under `node` (depth first). */
function findProperty(node: Node, key: string): Node | undefined {
  for (const child of named(node)) {
    if (child.type === 'object_property' && named(child)[0]?.text === key) return named(child)[1];
    const found = findProperty(child, key);
    if (found) return found;
  }
  return undefined;
}

export interface DeploymentInputs {
  /** The infra/ folder. */
  infraDir: string;
  /** The azd environment's values (AZURE_ENV_NAME, AZURE_LOCATION, optional TOMTOM_API_BASE_URL, …). */
  azdEnvironment: Record<string, string>;
  /** Values only Azure knows, by expression text, in main.bicep's and api.bicep's scopes. */
  resources: Record<string, Value>;
}

/** azd's substitution of main.parameters.json: `${NAME}` and `${NAME=default}` (default when unset). */
function azdParameters(file: string, environment: Record<string, string>): Record<string, Value> {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { parameters: Record<string, { value: unknown }> };
  const substitute = (text: string) =>
    text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      return environment[name] ?? fallback ?? '';
    });
  return Object.fromEntries(
    Object.entries(json.parameters).map(([name, { value }]) => [
      name,
      typeof value === 'string' ? substitute(value) : (value as Value),
    ]),
  );
}

/**
 * The function app's settings as `az functionapp config appsettings list` would show them after `azd up`
 * with this azd environment: the `appSettings` of the `Microsoft.Web/sites` resource in app/api.bicep.
 */
export async function deployedAppSettings(inputs: DeploymentInputs): Promise<Record<string, string>> {
  const parser = await bicepParser();
  const mainFile = join(inputs.infraDir, 'main.bicep');
  const mainRoot = parse(parser, readFileSync(mainFile, 'utf8'));
  const given = azdParameters(join(inputs.infraDir, 'main.parameters.json'), inputs.azdEnvironment);
  const main = new Scope('main.bicep', mainRoot, given, inputs.resources);

  const apiModule = named(mainRoot).find(
    (n) =>
      n.type === 'module_declaration' &&
      named(n).some((c) => c.type === 'string' && c.text === "'app/api.bicep'"),
  );
  if (!apiModule) throw new Error('main.bicep has no module for app/api.bicep');
  const moduleParams = findProperty(apiModule, 'params');
  if (!moduleParams) throw new Error('the app/api.bicep module passes no params');
  const passed: Record<string, () => Value> = {};
  for (const [name, expression] of objectEntries(moduleParams)) {
    passed[name] = () => main.evaluate(expression, new Map());
  }

  const apiFile = join(inputs.infraDir, 'app', 'api.bicep');
  const apiRoot = parse(parser, readFileSync(apiFile, 'utf8'));
  const api = new Scope('app/api.bicep', apiRoot, passed, inputs.resources);
  const site = named(apiRoot).find(
    (n) => n.type === 'resource_declaration' && n.text.includes("'Microsoft.Web/sites@"),
  );
  const appSettings = site && findProperty(site, 'appSettings');
  if (!appSettings)
    throw new Error('app/api.bicep: no siteConfig.appSettings on the Microsoft.Web/sites resource');
  const entries = api.evaluate(appSettings, new Map()) as { name: string; value: Value }[];
  return Object.fromEntries(entries.map(({ name, value }) => [name, String(value)]));
}
