/**
 * Which modules a deployment package needs that it does not hold. Starting from the app's entry, every
 * `require()`, `import` and `import()` specifier (found by TypeScript's pre-processor, which reads JavaScript
 * imports without running anything, so lazily loaded modules count too) is resolved from its file as Node would,
 * and each JavaScript file reached is read in turn. A specifier that does not resolve, or resolves outside the
 * package, is reported, except the few listed below, each with the reason Node never needs it there.
 */
import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

/** Specifiers that need not resolve inside the package, and why. */
const NOT_NEEDED: { from: RegExp; specifier: string; why: string }[] = [
  {
    from: /node_modules\/@azure\/functions\/dist\/azure-functions\.js$/,
    specifier: '@azure/functions-core',
    why: 'supplied at run time by the Functions host (the Node worker); not an npm package',
  },
  {
    from: /node_modules\/@azure\/monitor-opentelemetry\/dist\/commonjs\/shared\/module\.js$/,
    specifier: '@azure/functions-core',
    why: 'supplied at run time by the Functions host; the distro requires it inside try/catch',
  },
  {
    from: /node_modules\/@microsoft\/applicationinsights-web-snippet\/dist\/es5\/node\/applicationinsights-web-snippet\.js$/,
    specifier: 'exports',
    why: "an AMD define() dependency name in the snippet's UMD wrapper, not a module Node loads",
  },
  {
    from: /node_modules\/tslib\/tslib\.js$/,
    specifier: 'exports',
    why: "an AMD define() dependency name in tslib's UMD wrapper, not a module Node loads",
  },
  {
    from: /node_modules\/(.+\/)?debug\/src\/node\.js$/,
    specifier: 'supports-color',
    why: 'optional: debug requires it inside try/catch and works without it',
  },
];

const BUILTIN = new Set(builtinModules);

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTIN.has(specifier) || BUILTIN.has(specifier.split('/')[0]!);
}

export interface ImportScan {
  /** JavaScript files reached from the entry. */
  files: number;
  /** `<file> -> <specifier> (<why>)` for each specifier the package cannot satisfy. */
  unresolved: string[];
}

export function unresolvedImports(root: string, entry: string): ImportScan {
  const seen = new Set<string>();
  const queue = [join(root, entry)];
  const unresolved: string[] = [];
  const inside = (file: string) => file.startsWith(root + sep);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const from = relative(root, file).split(sep).join('/');
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (isBuiltin(specifier)) continue;
      if (NOT_NEEDED.some((n) => n.specifier === specifier && n.from.test(from))) continue;
      let resolved: string;
      try {
        resolved = createRequire(file).resolve(specifier);
      } catch (error) {
        unresolved.push(`${from} -> ${specifier} (${(error as NodeJS.ErrnoException).code ?? 'unresolved'})`);
        continue;
      }
      if (!inside(resolved))
        unresolved.push(`${from} -> ${specifier} (resolves outside the package: ${resolved})`);
      else if (/\.[cm]?js$/.test(resolved)) queue.push(resolved);
    }
  }
  return { files: seen.size, unresolved };
}
