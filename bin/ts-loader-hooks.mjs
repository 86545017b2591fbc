// Module hooks (node:module register) that load .ts files: esbuild strips the types, one file
// at a time, as TypeScript with the project's settings would emit it (ES2022 class fields,
// imports used only as types dropped). Sources import each other with their .ts names
// (tsconfig allowImportingTsExtensions), so Node's own resolution finds them; only loading
// needs help. Type errors are `npm run typecheck`'s business, not the loader's.
//
// What esbuild makes is kept in node_modules/.cache/ics-ts-loader/, named by a hash of the
// source, its path, the options and esbuild's version, so that a start transforms only the
// sources changed since they last loaded (all of them take ~0.5 s on 2 cores). An entry is
// never stale: other source gives another name. Where the install is read-only the cache is
// skipped.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform, version } from 'esbuild';

const OPTIONS = {
  loader: 'ts',
  format: 'esm',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } },
};
const CACHE = fileURLToPath(new URL('../node_modules/.cache/ics-ts-loader/', import.meta.url));
const SALT = JSON.stringify([version, OPTIONS]);
let cacheUsable = true;

async function transformed(path, source) {
  const name = `${CACHE}${createHash('sha256').update(SALT).update('\0').update(path).update('\0').update(source).digest('hex')}.js`;
  if (cacheUsable) {
    try {
      return await readFile(name, 'utf8');
    } catch {
      // Not made yet.
    }
  }
  const { code } = await transform(source, { ...OPTIONS, sourcefile: path });
  if (cacheUsable) {
    try {
      await mkdir(CACHE, { recursive: true });
      // Written whole under a temporary name first: a concurrent start never reads half a file.
      const temporary = `${name}.${process.pid}.tmp`;
      await writeFile(temporary, code);
      await rename(temporary, name);
    } catch {
      cacheUsable = false;
    }
  }
  return code;
}

export async function load(url, context, nextLoad) {
  // A query or fragment (a test's cache-busting import) is not part of the file's name.
  if (!url.startsWith('file:') || !new URL(url).pathname.endsWith('.ts')) return nextLoad(url, context);
  // The source through the rest of the chain (Node reads it), so that hooks registered
  // before this one (a test's import trace) still see every module.
  const { source } = await nextLoad(url, { ...context, format: 'module' });
  const code = await transformed(fileURLToPath(url), Buffer.from(source).toString('utf8'));
  return { format: 'module', source: code, shortCircuit: true };
}
