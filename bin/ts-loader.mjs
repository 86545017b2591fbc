// The TypeScript loader of every process the project runs (the `ics` launcher, its worker
// threads, tests, benchmarks): `node --import ./bin/ts-loader.mjs file.ts`, or imported first.
// It registers bin/ts-loader-hooks.mjs, which transpiles each .ts module with esbuild as it
// loads. Not tsx: tsx has esbuild keep function names, which wraps every closure a hot path
// creates in a defineProperty call (~20 % of an LDAP search's main-thread time, measured).
// Worker threads do not inherit loader hooks on Node 20: a worker's entry imports this itself.
import { register } from 'node:module';

// Inline source maps: stack traces name the .ts file and line.
process.setSourceMapsEnabled(true);
register('./ts-loader-hooks.mjs', import.meta.url);
