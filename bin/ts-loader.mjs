// The TypeScript loader of every process the project runs (the `ics` launcher, its worker
// threads, tests, benchmarks): `node --import ./bin/ts-loader.mjs file.ts`, or imported first.
// It registers bin/ts-loader-hooks.mjs, which transpiles each .ts module with esbuild as it
// loads. Not tsx: tsx has esbuild keep function names, which wraps every closure a hot path
// creates in a defineProperty call (~20 % of an LDAP search's main-thread time, measured).
// Worker threads do not inherit loader hooks on Node 20: a worker's entry imports this itself.
import { createRequire, register } from 'node:module';

// Inline source maps: stack traces name the .ts file and line.
process.setSourceMapsEnabled(true);
register('./ts-loader-hooks.mjs', import.meta.url);

// The sources are ES modules, loaded through the hooks above by import(). require() does not
// run those hooks, and since Node 20.19 it loads ES modules itself: a .ts file whose text
// happens to parse as JavaScript (`new Doorkeeper<string>(100)` does) would run with its
// types read as code. mocha tries require() first; refused, it falls back to import().
const cjs = createRequire(import.meta.url)('node:module');
cjs._extensions['.ts'] = (_module, filename) => {
  const error = new Error(`${filename} is a TypeScript ES module: load it with import()`);
  error.code = 'ERR_REQUIRE_ESM';
  throw error;
};
