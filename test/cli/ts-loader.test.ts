// The project's TypeScript loader (bin/ts-loader.mjs), which this test runs under as every
// process of the project does: types stripped, class fields as TypeScript defines them, and
// its cache of transformed sources never serving an older version of a file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

describe('cli: the TypeScript loader', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ts-loader-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a changed source as changed, never the cached transform of its older text', async () => {
    const file = join(dir, 'changing.ts');
    const url = pathToFileURL(file).href;
    writeFileSync(file, 'export const value: number = 1;\n');
    assert.equal(((await import(`${url}?first`)) as { value: number }).value, 1);
    writeFileSync(file, 'export const value: number = 2;\n');
    assert.equal(((await import(`${url}?second`)) as { value: number }).value, 2);
    writeFileSync(file, 'export const value: number = 1;\n');
    assert.equal(((await import(`${url}?third`)) as { value: number }).value, 1);
  });

  it('refuses require() of a source whose TypeScript parses as JavaScript; import() strips its types', async () => {
    // `new Box<string>(1)` read as JavaScript is `new Box < string > 1`: `string` is undefined.
    const file = join(dir, 'generic.ts');
    writeFileSync(file, 'export class Box { size; constructor(size) { this.size = size; } }\nexport const made = new Box<string>(1);\n');
    assert.throws(() => createRequire(import.meta.url)(file), (error: NodeJS.ErrnoException) => error.code === 'ERR_REQUIRE_ESM');
    const { made } = (await import(pathToFileURL(file).href)) as { made: { size: number } };
    assert.equal(made.size, 1);
  });

  it('strips types, drops type-only imports and defines class fields as TypeScript does', async () => {
    const file = join(dir, 'fields.ts');
    writeFileSync(
      file,
      [
        // A module that does not exist, named only as a type: loading fails unless the import is dropped.
        "import { Missing } from './does-not-exist.ts';",
        'class Base { constructor() { (this as { seen?: unknown }).seen = (this as { field?: unknown }).field; } }',
        'export class Derived extends Base { field: string | undefined; readonly #secret = 7; get secret(): number { return this.#secret; } }',
        'export const unused: Missing | undefined = undefined;',
      ].join('\n'),
    );
    const { Derived } = (await import(pathToFileURL(file).href)) as { Derived: new () => { field: unknown; secret: number } };
    const d = new Derived();
    // useDefineForClassFields: the declared field exists, as undefined, after super().
    assert.ok(Object.hasOwn(d, 'field'));
    assert.equal(d.field, undefined);
    assert.equal(d.secret, 7);
  });
});
