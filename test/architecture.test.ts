// The layers of docs/architecture.md, checked over the sources: which folder of ics/ may
// import which, and which folders alone may use the libraries that define a layer. A new
// import that runs the wrong way fails here with the file and the import named.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ICS = join(dirname(fileURLToPath(import.meta.url)), '..', 'ics');

/** What each folder of ics/ may import (besides itself and ics/errors.ts). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  record: [],
  policy: ['record'],
  store: ['record'],
  ingest: ['record', 'policy', 'store'],
  enrol: ['record', 'policy', 'store'],
  tlog: ['store'],
  auth: ['policy'],
  net: [],
  http: ['record', 'policy', 'store', 'ingest', 'auth', 'net'],
  hkp: ['record', 'policy', 'store', 'ingest', 'auth', 'net', 'http'],
  api: ['record', 'policy', 'store', 'ingest', 'auth', 'net', 'http', 'tlog'],
  est: ['record', 'policy', 'store', 'ingest', 'enrol', 'auth', 'net', 'http'],
  pkix: ['record', 'policy', 'store', 'ingest', 'auth', 'net', 'http'],
  ldap: ['record', 'policy', 'store', 'ingest', 'auth', 'net'],
  sync: ['record', 'policy', 'store', 'ingest', 'net', 'tlog'],
  broker: ['record', 'store', 'enrol'],
  admin: ['record', 'policy', 'store', 'ingest', 'auth', 'net', 'http', 'sync'],
  console: ['record', 'policy', 'store', 'ingest', 'auth', 'net', 'http', 'sync', 'admin'],
  node: ['record', 'policy', 'store', 'ingest', 'enrol', 'tlog', 'auth', 'net', 'http', 'hkp', 'api', 'est', 'pkix', 'ldap', 'sync', 'broker', 'admin', 'console'],
  cli: ['record', 'policy', 'store', 'ingest', 'enrol', 'tlog', 'auth', 'net', 'http', 'hkp', 'api', 'est', 'pkix', 'ldap', 'sync', 'broker', 'admin', 'node'],
};

/** Libraries that belong to one layer: only these folders (or sub-folders) may import them. */
const LIBRARY_HOMES: Record<string, readonly string[]> = {
  'classic-level': ['store/level'],
  ldapjs: ['ldap'],
  fastify: ['http', 'hkp', 'api', 'est', 'pkix', 'admin', 'console'],
  eta: ['console'],
  libp2p: ['sync'],
  mqtt: ['broker'],
  // X.509 (and the Reflect polyfill it needs) only in the certificate authority.
  '@peculiar': ['enrol'],
  'reflect-metadata': ['enrol'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

const IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

const folderOf = (path: string) => relative(ICS, path).split('/')[0] as string;

describe('architecture: the layers hold', () => {
  const files = sources(ICS);

  it('finds the sources and every folder has a rule', () => {
    assert.ok(files.length > 100, `${files.length} source files`);
    const folders = new Set(files.map(folderOf).filter((f) => !f.endsWith('.ts')));
    for (const folder of folders) assert.ok(folder in MAY_IMPORT, `ics/${folder}/ has no rule in MAY_IMPORT (add it, and to docs/architecture.md)`);
  });

  it('imports between folders point down the layers only', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = folderOf(file);
      if (from.endsWith('.ts')) continue;
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const to = folderOf(normalize(join(dirname(file), spec)));
        if (to === from || to.endsWith('.ts')) continue;
        if (!(MAY_IMPORT[from] ?? []).includes(to)) wrong.push(`${relative(ICS, file)} imports ${spec} (${from} → ${to})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('layer libraries are used in their layer only', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const at = relative(ICS, file);
      for (const spec of importsOf(file)) {
        const library = Object.keys(LIBRARY_HOMES).find((name) => spec === name || spec.startsWith(`${name}/`));
        if (library && !(LIBRARY_HOMES[library] ?? []).some((home) => at.startsWith(`${home}/`))) wrong.push(`${at} imports ${spec}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('the check sees a wrong import (the rule is not vacuous)', () => {
    const ldapFiles = files.filter((f) => folderOf(f) === 'ldap');
    assert.ok(ldapFiles.some((f) => importsOf(f).some((s) => s.startsWith('../store/'))), 'ldap imports the store');
    assert.ok(!(MAY_IMPORT.ldap ?? []).includes('http'), 'and may not import the HTTP host');
  });
});
