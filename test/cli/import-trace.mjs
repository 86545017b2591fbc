// Test-only module hooks: `node --import ./import-trace.mjs` with IMPORT_TRACE_FILE set
// appends the URL of every module the process loads to that file, one a line. Plain
// JavaScript: it runs before the TypeScript loader is registered.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import process from 'node:process';
import { isMainThread } from 'node:worker_threads';

let traceFile;

export function initialize(data) {
  traceFile = data.file;
}

export async function load(url, context, nextLoad) {
  appendFileSync(traceFile, `${url}\n`);
  return nextLoad(url, context);
}

// Imported on the main thread by --import; Node then loads this file again as the hooks.
if (isMainThread && process.env.IMPORT_TRACE_FILE) register(import.meta.url, { data: { file: process.env.IMPORT_TRACE_FILE } });
