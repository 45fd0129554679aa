// A small, dependency-free reader for this project's Bicep files. It is no compiler (none can be
// installed here: the Bicep CLI is a .NET binary fetched from GitHub); it masks comments and string
// literals so that structure (braces, keys, params, modules) can be read reliably.
import { readFileSync } from 'node:fs';

/**
 * Same length as the source, newlines kept; comments and string-literal text become spaces, as do the
 * `${` and `}` of an interpolation. The expression inside an interpolation is kept (it uses params).
 */
export function maskBicep(source: string, options: { keepStrings?: boolean } = {}): string {
  const out = source.split('');
  const blankComment = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  const blank = options.keepStrings ? () => {} : blankComment;
  const n = source.length;

  // Returns the index just past an expression that ends at an unmatched `}` (or the end).
  const expression = (start: number, closeOnBrace: boolean): number => {
    let depth = 0;
    let i = start;
    while (i < n) {
      const c = source[i];
      if (c === '/' && source[i + 1] === '/') {
        const end = source.indexOf('\n', i);
        const stop = end === -1 ? n : end;
        blankComment(i, stop);
        i = stop;
      } else if (c === '/' && source[i + 1] === '*') {
        const end = source.indexOf('*/', i + 2);
        const stop = end === -1 ? n : end + 2;
        blankComment(i, stop);
        i = stop;
      } else if (c === "'") {
        i = string(i);
      } else if (c === '{') {
        depth++;
        i++;
      } else if (c === '}') {
        if (closeOnBrace && depth === 0) return i;
        depth--;
        i++;
      } else {
        i++;
      }
    }
    return i;
  };

  // Index just past the string literal that starts at `start`.
  const string = (start: number): number => {
    if (source.startsWith("'''", start)) {
      const end = source.indexOf("'''", start + 3);
      const stop = end === -1 ? n : end + 3;
      blank(start + 1, stop - 1);
      return stop;
    }
    let i = start + 1;
    while (i < n) {
      const c = source[i];
      if (c === '\\') {
        blank(i, i + 2);
        i += 2;
      } else if (c === "'") {
        return i + 1;
      } else if (c === '$' && source[i + 1] === '{') {
        blank(i, i + 2);
        const close = expression(i + 2, true);
        blank(close, close + 1);
        i = close + 1;
      } else {
        blank(i, i + 1);
        i++;
      }
    }
    return i;
  };

  expression(0, false);
  return out.join('');
}

/** Index of the bracket closing the one at `open` in masked text, or -1. */
export function matchingBracket(masked: string, open: number): number {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: string[] = [];
  for (let i = open; i < masked.length; i++) {
    const c = masked[i];
    if (c in pairs) stack.push(pairs[c]);
    else if (c === '}' || c === ']' || c === ')') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

/** First unbalanced bracket in masked text, as a message, or undefined when all are balanced. */
export function unbalancedBracket(masked: string): string | undefined {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: { close: string; at: number }[] = [];
  const line = (at: number) => masked.slice(0, at).split('\n').length;
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i];
    if (c in pairs) stack.push({ close: pairs[c], at: i });
    else if (c === '}' || c === ']' || c === ')') {
      const top = stack.pop();
      if (top?.close !== c) return `unexpected "${c}" on line ${line(i)}`;
    }
  }
  const open = stack.pop();
  return open ? `"${masked[open.at]}" on line ${line(open.at)} is never closed` : undefined;
}

/** Keys directly inside the object literal whose `{` is at `open` (masked text): `key: value`. */
export function objectKeys(masked: string, open: number): string[] {
  const close = matchingBracket(masked, open);
  if (close === -1) throw new Error(`unbalanced object literal at offset ${open}`);
  const keys: string[] = [];
  let depth = 0;
  for (let i = open; i <= close; i++) {
    const c = masked[i];
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    else if (depth === 1 && /[A-Za-z_']/.test(c) && /[{,\n]\s*$/.test(masked.slice(open, i))) {
      const key = /^([A-Za-z_][A-Za-z0-9_]*)\s*:(?!:)/.exec(masked.slice(i));
      if (!key && c === "'" && /^'\s*'\s*:/.test(masked.slice(i))) {
        throw new Error('quoted keys are not supported here: use identifier keys');
      }
      if (key) {
        keys.push(key[1]);
        i += key[0].length - 1;
      }
    }
  }
  return keys;
}

/** Every object-literal key anywhere in masked[from, to). */
export function allObjectKeys(masked: string, from: number, to: number): string[] {
  const keys: string[] = [];
  let i = masked.indexOf('{', from);
  while (i !== -1 && i < to) {
    keys.push(...objectKeys(masked, i));
    i = masked.indexOf('{', i + 1);
  }
  return keys;
}

export interface AppSettingsBlock {
  /** Keys of `var appSettings = { … }`: set in every deployment. */
  readonly always: ReadonlyMap<string, string>;
  /** Keys inside `var optionalAppSettings = …`: set only when the deployer gives a value. */
  readonly conditional: ReadonlySet<string>;
  /** Source text between the markers with comments blanked, for value checks. */
  readonly text: string;
}

const BEGIN = '// ---- app settings: begin ----';
const END = '// ---- app settings: end ----';

/** Reads the delimited app-settings block of infra/app/api.bicep. Values are raw Bicep expressions. */
export function readAppSettings(file: string): AppSettingsBlock {
  const source = readFileSync(file, 'utf8');
  const begin = source.indexOf(BEGIN);
  const end = source.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) throw new Error(`${file}: app-settings markers not found`);
  const masked = maskBicep(source);
  const plain = maskBicep(source, { keepStrings: true });
  const region = masked.slice(begin, end);

  const always = new Map<string, string>();
  const appSettings = /\bvar appSettings\s*=\s*\{/.exec(region);
  if (!appSettings) throw new Error(`${file}: no "var appSettings = {" between the markers`);
  const open = begin + appSettings.index + appSettings[0].length - 1;
  for (const key of objectKeys(masked, open)) {
    if (always.has(key)) throw new Error(`${file}: app setting ${key} is set twice`);
    const keyAt = masked.indexOf(`${key}:`, open);
    const lineEnd = source.indexOf('\n', keyAt);
    always.set(key, plain.slice(keyAt + key.length + 1, lineEnd).trim());
  }

  const optional = /\bvar optionalAppSettings\s*=/.exec(region);
  const conditional = new Set<string>();
  if (optional) {
    const from = begin + optional.index;
    const next = /\n(var|resource|module|output|param)\b/.exec(masked.slice(from + 1, end));
    const to = next ? from + 1 + next.index : end;
    for (const key of allObjectKeys(masked, from, to)) conditional.add(key);
  }

  const text = plain.slice(begin, end);
  return { always, conditional, text };
}

export interface ParamDecl {
  readonly name: string;
  readonly hasDefault: boolean;
}

/** `param name type [= default]` declarations (masked text). */
export function params(masked: string): ParamDecl[] {
  return [
    ...masked.matchAll(/^param\s+([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_.]*\??)(\s*=)?/gm),
  ].map((m) => ({ name: m[1], hasDefault: Boolean(m[3]) || m[2].endsWith('?') }));
}

/** `output name type = …` names (masked text). */
export function outputs(masked: string): string[] {
  return [...masked.matchAll(/^output\s+([A-Za-z_][A-Za-z0-9_]*)\s/gm)].map((m) => m[1]);
}

export interface ModuleDecl {
  readonly symbol: string;
  readonly path: string;
  /** Keys of its `params: { … }`. */
  readonly params: string[];
}

/** `module sym 'path' = { … params: { … } }` (paths come from the original source). */
export function modules(source: string, masked: string): ModuleDecl[] {
  const found: ModuleDecl[] = [];
  for (const m of masked.matchAll(/^module\s+([A-Za-z_][A-Za-z0-9_]*)\s+'/gm)) {
    const quote = (m.index ?? 0) + m[0].length - 1;
    const closeQuote = source.indexOf("'", quote + 1);
    const modulePath = source.slice(quote + 1, closeQuote);
    const body = masked.indexOf('{', closeQuote);
    const bodyEnd = matchingBracket(masked, body);
    const paramsAt = /\n\s*params:\s*\{/.exec(masked.slice(body, bodyEnd));
    const keys = paramsAt ? objectKeys(masked, body + paramsAt.index + paramsAt[0].length - 1) : [];
    found.push({ symbol: m[1], path: modulePath, params: keys });
  }
  return found;
}
