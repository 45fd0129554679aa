/**
 * The app's version, as package.json declares it. A constant rather than an import of package.json: the
 * deployment package holds the compiled app under dist/, where a relative import of the root package.json
 * does not resolve (and TypeScript would emit a copy outside dist/functions and dist/shared, which are all
 * that is deployed). test/unit/version.test.ts keeps the two equal.
 */
export const APP_VERSION = '0.1.0';
