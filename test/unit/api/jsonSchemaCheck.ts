/**
 * A deliberately small JSON Schema (2020-12) checker: just the keywords our generated OpenAPI schemas use.
 * Tests use it to ask "what would a client validating against the published document conclude?".
 * An unsupported keyword fails loudly, so a schema change cannot silently escape the contract test.
 */
type Schema = Record<string, unknown>;

const SUPPORTED = new Set([
  '$ref',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'format',
  'items',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'description',
  'title',
  'default',
  'examples',
  'propertyNames',
]);

function typeOf(value: unknown): string[] {
  if (value === null) return ['null'];
  if (Array.isArray(value)) return ['array'];
  if (typeof value === 'number') return Number.isInteger(value) ? ['integer', 'number'] : ['number'];
  return [typeof value];
}

export function schemaProblems(schema: unknown, value: unknown, root: Schema, path = '$'): string[] {
  if (schema === true || (typeof schema === 'object' && schema !== null && Object.keys(schema).length === 0))
    return [];
  if (schema === false) return [`${path}: nothing allowed`];
  const s = schema as Schema;
  for (const key of Object.keys(s)) {
    if (!SUPPORTED.has(key)) throw new Error(`jsonSchemaCheck does not support "${key}" (at ${path})`);
  }
  const problems: string[] = [];
  if (typeof s.$ref === 'string') {
    const target = s.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, part) => (node as Schema)?.[part], root);
    if (target === undefined) throw new Error(`unresolvable $ref ${s.$ref}`);
    problems.push(...schemaProblems(target, value, root, path));
  }
  if (s.type !== undefined) {
    const allowed = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!typeOf(value).some((t) => allowed.includes(t)))
      return [...problems, `${path}: not ${allowed.join('|')}`];
  }
  if (Array.isArray(s.enum) && !s.enum.includes(value)) problems.push(`${path}: not in enum`);
  if ('const' in s && s.const !== value) problems.push(`${path}: not const`);
  if (typeof value === 'string') {
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value))
      problems.push(`${path}: pattern`);
    const length = [...value].length;
    if (typeof s.minLength === 'number' && length < s.minLength) problems.push(`${path}: minLength`);
    if (typeof s.maxLength === 'number' && length > s.maxLength) problems.push(`${path}: maxLength`);
    if (s.format === 'uri' && !URL.canParse(value)) problems.push(`${path}: format uri`);
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) problems.push(`${path}: minimum`);
    if (typeof s.maximum === 'number' && value > s.maximum) problems.push(`${path}: maximum`);
  }
  if (Array.isArray(value) && s.items) {
    for (const [index, item] of value.entries()) {
      problems.push(...schemaProblems(s.items, item, root, `${path}[${index}]`));
    }
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    for (const name of (s.required as string[] | undefined) ?? []) {
      if (!(name in object)) problems.push(`${path}.${name}: required`);
    }
    for (const [name, item] of Object.entries(object)) {
      if (name in properties)
        problems.push(...schemaProblems(properties[name], item, root, `${path}.${name}`));
      else if (s.additionalProperties === false) problems.push(`${path}.${name}: not allowed`);
      else if (typeof s.additionalProperties === 'object') {
        problems.push(...schemaProblems(s.additionalProperties, item, root, `${path}.${name}`));
      }
    }
  }
  const passes = (sub: unknown) => schemaProblems(sub, value, root, path).length === 0;
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf) problems.push(...schemaProblems(sub, value, root, path));
  }
  if (Array.isArray(s.anyOf) && !s.anyOf.some(passes)) problems.push(`${path}: anyOf`);
  if (Array.isArray(s.oneOf) && s.oneOf.filter(passes).length !== 1) problems.push(`${path}: oneOf`);
  if (s.not !== undefined && passes(s.not)) problems.push(`${path}: not`);
  if (s.if !== undefined) {
    const branch = passes(s.if) ? s.then : s.else;
    if (branch !== undefined) problems.push(...schemaProblems(branch, value, root, path));
  }
  return problems;
}
