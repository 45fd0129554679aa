/**
 * The one door to hyparquet, which ships as ES modules only. A CommonJS app can `require()` an ES module only
 * where Node enables require(esm), by default from Node 22.12; Flex Consumption's "Node 22" may be an older
 * 22.x. So the library is loaded with a dynamic `import()`, which TypeScript (module nodenext) keeps as is in
 * the CommonJS output and which every Node 22 supports. Loaded on first use and shared; types come from
 * `import type`, which emits nothing.
 */
type Hyparquet = typeof import('hyparquet');

let loading: Promise<Hyparquet> | undefined;

export function loadHyparquet(): Promise<Hyparquet> {
  loading ??= import('hyparquet');
  return loading;
}
