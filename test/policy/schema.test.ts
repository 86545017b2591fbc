import assert from 'node:assert/strict';
import { POLICY_SCHEMA } from '../../ics/policy/index.ts';
import { CODE_STATUSES, DEFAULT_LIMITS, DEVICE_STATUSES, type EntityKind, ROLES } from '../../ics/record/index.ts';

interface Schema {
  readonly [keyword: string]: unknown;
  readonly type?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly definitions?: Readonly<Record<string, Schema>>;
  readonly items?: Schema;
  readonly enum?: readonly unknown[];
}

const root = POLICY_SCHEMA as Schema;

/** The subschema at a path of keywords and names, e.g. at('definitions', 'role'). */
function at(...path: string[]): Schema {
  let schema: unknown = root;
  for (const key of path) schema = (schema as Record<string, unknown> | undefined)?.[key];
  assert.ok(schema && typeof schema === 'object', `no subschema at ${path.join('/')}`);
  return schema as Schema;
}

/** Every subschema, with its JSON path in the schema. */
function* subschemas(schema: Schema, path = '#'): Generator<[string, Schema]> {
  yield [path, schema];
  for (const key of ['properties', 'definitions'] as const) {
    for (const [name, child] of Object.entries(schema[key] ?? {})) yield* subschemas(child, `${path}/${key}/${name}`);
  }
  for (const key of ['items', 'if', 'then', 'else']) {
    const child = schema[key];
    if (child && typeof child === 'object') yield* subschemas(child as Schema, `${path}/${key}`);
  }
}

describe('schemas/policy.schema.json', () => {
  it('is draft-07 and closes every object (additionalProperties: false)', () => {
    assert.equal(root.$schema, 'http://json-schema.org/draft-07/schema#');
    const open = [...subschemas(root)].filter(([, s]) => s.type === 'object' && s.additionalProperties !== false);
    assert.deepEqual(open.map(([p]) => p), []);
  });

  it('describes every property', () => {
    const bare: string[] = [];
    for (const [path, schema] of subschemas(root)) {
      for (const [name, child] of Object.entries(schema.properties ?? {})) {
        if (typeof child.description !== 'string' || child.description.length === 0) bare.push(`${path}/properties/${name}`);
      }
    }
    assert.deepEqual(bare, []);
  });

  it('names exactly the roles, statuses and kinds of the record model', () => {
    assert.deepEqual(at('definitions', 'role').enum, [...ROLES]);
    assert.deepEqual(at('definitions', 'status').enum, [...DEVICE_STATUSES, ...CODE_STATUSES]);
    const kinds: EntityKind[] = ['device', 'gateway', 'service', 'org', 'key', 'code'];
    assert.deepEqual(at('definitions', 'domain', 'properties', 'select', 'properties', 'kinds', 'items').enum, kinds);
    assert.deepEqual(at('definitions', 'domain', 'properties', 'write', 'properties', 'roles').default, [...ROLES]);
  });

  it('defaults and caps the limits at the record parser’s own', () => {
    const limit = (name: string) => at('definitions', 'domain', 'properties', 'limits', 'properties', name);
    assert.equal(limit('maxRecordBytes').default, DEFAULT_LIMITS.maxRecordBytes);
    assert.equal(limit('maxRecordBytes').maximum, DEFAULT_LIMITS.maxRecordBytes);
    assert.equal(limit('maxSignaturesPerSigner').default, DEFAULT_LIMITS.maxSignaturesPerSigner);
    assert.equal(limit('maxSignaturesPerSigner').maximum, DEFAULT_LIMITS.maxSignaturesPerSigner);
  });
});
