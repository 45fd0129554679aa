/** Deployable files, relative to root, with forward slashes, sorted. See scripts/package.js. */
export function listPackageFiles(root: string): string[];
/** Package directories (e.g. `node_modules/@azure/identity`) npm installs with --omit=dev --omit=optional. */
export function productionPackageDirs(root: string): string[];
/** Copies listPackageFiles(root) into outDir (replacing it); returns the number of files. */
export function stagePackage(root: string, outDir: string): number;
/** Where `npm run package` stages the app; azure.yaml's `dist` points here. */
export const DEPLOY_DIR: string;
