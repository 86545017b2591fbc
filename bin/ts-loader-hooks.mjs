// Module hooks (node:module register) that load .ts files: esbuild strips the types, one file
// at a time, as TypeScript with the project's settings would emit it (ES2022 class fields,
// imports used only as types dropped). Sources import each other with their .ts names
// (tsconfig allowImportingTsExtensions), so Node's own resolution finds them; only loading
// needs help. Type errors are `npm run typecheck`'s business, not the loader's.
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const OPTIONS = {
  loader: 'ts',
  format: 'esm',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } },
};

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  // The source through the rest of the chain (Node reads it), so that hooks registered
  // before this one (a test's import trace) still see every module.
  const { source } = await nextLoad(url, { ...context, format: 'module' });
  const { code } = await transform(Buffer.from(source).toString('utf8'), { ...OPTIONS, sourcefile: fileURLToPath(url) });
  return { format: 'module', source: code, shortCircuit: true };
}
