// The published schema (schemas/ics-ldap-schema.ldif) agrees with what the server serves
// (ics/ldap/schema.ts), every attribute an entry carries is in the schema, and OpenLDAP's
// slaptest accepts the file beside GnuPG's schema (Debian package slapd; the test fails
// without it, scripts/install-test-deps.sh installs it).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Entry } from '../../ics/ldap/entry.ts';
import {
  ALL_ATTRIBUTES,
  attributeType,
  attributeTypeDescription,
  ICS_ARC,
  ICS_ATTRIBUTES,
  ICS_RECORD_CLASS,
  objectClassDescription,
  PGP_KEY_INFO_CLASS,
} from '../../ics/ldap/schema.ts';
import { runTool, SLAPTEST, schemaFromOlcLdif, writeSlapdConf } from '../../bench/ldap-slapd.ts';
import { requireTool } from '../helpers/tools.ts';
import { KEYS, RECORDS, startLdap } from './helpers.ts';
import { WireClient } from './wire.ts';

const LDIF = fileURLToPath(new URL('../../schemas/ics-ldap-schema.ldif', import.meta.url));
/** GnuPG's own keyserver schema, verbatim (test/vectors/README.md says where from). */
const GNUPG_REFERENCE = fileURLToPath(new URL('../vectors/gnupg-ldap-schema.ldif', import.meta.url));

/** `olcAttributeTypes` and `olcObjectClasses` values of an LDIF, whitespace collapsed, index dropped. */
function definitions(ldif: string): string[] {
  return schemaFromOlcLdif(ldif)
    .trim()
    .split('\n')
    .map((line) => line.replace(/^(attributetype|objectclass)\s+/, '').replace(/\s+/g, ' ').trim());
}

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('ldap/schema', () => {
  it('schemas/ics-ldap-schema.ldif holds exactly the ICS attributes and object class served', async () => {
    const published = definitions(await readFile(LDIF, 'utf8'));
    const served = [...ICS_ATTRIBUTES.map(attributeTypeDescription), objectClassDescription(ICS_RECORD_CLASS)].map(collapse);
    assert.deepEqual(published, served);
  });

  it('uses OIDs under the documented example arc, each once', () => {
    assert.equal(ICS_ARC, '1.3.6.1.4.1.32473.1');
    const oids = [...ICS_ATTRIBUTES.map((a) => a.oid), ICS_RECORD_CLASS.oid];
    assert.ok(oids.every((o) => o.startsWith(`${ICS_ARC}.`)));
    assert.equal(new Set(ALL_ATTRIBUTES.map((a) => a.oid)).size, ALL_ATTRIBUTES.length);
    assert.equal(new Set(ALL_ATTRIBUTES.map((a) => a.name.toLowerCase())).size, ALL_ATTRIBUTES.length);
  });

  it("matches GnuPG's OIDs and names for the keyserver schema", async () => {
    const reference = definitions(await readFile(GNUPG_REFERENCE, 'utf8'));
    for (const def of reference) {
      const m = /^\( ([\d.]+) NAME '(\w+)'/.exec(def);
      assert.ok(m, def);
      const [, oid, name] = m;
      if (def.includes('STRUCTURAL')) {
        if (name === 'pgpKeyInfo') assert.equal(PGP_KEY_INFO_CLASS.oid, oid);
        continue;
      }
      const type = attributeType(name as string);
      assert.ok(type, `${name} is served`);
      assert.equal(type.oid, oid, name);
      assert.equal(type.single, def.includes('SINGLE-VALUE'), `${name} single-valued`);
    }
  });

  it('every attribute of a served entry is in the schema and its class', async () => {
    const node = await startLdap();
    const client = await WireClient.connect(node.port);
    try {
      for (const [base, cls] of [
        [RECORDS, ICS_RECORD_CLASS],
        [KEYS, PGP_KEY_INFO_CLASS],
      ] as const) {
        const { entries } = await client.search({ base, scope: 'one', attributes: ['*'] });
        assert.ok(entries.length > 0);
        const allowed = new Set(['objectclass', ...cls.must, ...cls.may].map((n) => n.toLowerCase()));
        for (const e of entries) for (const name of e.attributes?.keys() ?? []) assert.ok(allowed.has(name.toLowerCase()), `${name} in ${cls.name}`);
      }
    } finally {
      client.close();
      await node.stop();
    }
    assert.throws(() => new Entry('cn=x', [['notInTheSchema', ['1']]]));
  });

  it('OpenLDAP accepts the schema beside GnuPG’s (slaptest)', async () => {
    requireTool(SLAPTEST, 'slapd');
    const dir = await mkdtemp(join(tmpdir(), 'ics-slaptest-'));
    try {
      const gnupg = join(dir, 'gnupg.schema');
      const ics = join(dir, 'ics.schema');
      await writeFile(gnupg, schemaFromOlcLdif(await readFile(GNUPG_REFERENCE, 'utf8')));
      await writeFile(ics, schemaFromOlcLdif(await readFile(LDIF, 'utf8')));
      const conf = await writeSlapdConf({
        dir,
        suffix: 'dc=ics,dc=example',
        schemas: [gnupg, ics],
        indexes: ['icsStatus,icsKind,icsDomain eq', 'icsUserID eq,sub'],
        maxSizeBytes: 1 << 24,
      });
      const { code, stderr } = await runTool(SLAPTEST, ['-u', '-f', conf]);
      assert.equal(code, 0, stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
