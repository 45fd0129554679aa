/**
 * The one door to hyparquet-writer, which ships as ES modules only: loaded with a dynamic `import()` on first
 * use, as `shared/parquet/hyparquet.ts` loads hyparquet (see there why not `require(esm)`). Types come from
 * `import type`, which emits nothing.
 */
type HyparquetWriter = typeof import('hyparquet-writer');

let loading: Promise<HyparquetWriter> | undefined;

export function loadHyparquetWriter(): Promise<HyparquetWriter> {
  loading ??= import('hyparquet-writer');
  return loading;
}
