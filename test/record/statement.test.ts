import assert from 'node:assert/strict';
import canonicalize from 'canonicalize';
import { isIcsError } from '../../ics/errors.ts';
import { canonicalStatement, codeRecordBytes, codeStatement, parseCodeRecord } from '../../ics/record/index.ts';
import { readCanonicalStatement } from '../../ics/record/statement.ts';

const digest = { sha256: 'ab'.repeat(32) };

describe('record/statement (RFC 8785)', () => {
  it('canonicalises the RFC 8785 §3.2.2 example exactly', () => {
    // The sample input and output of RFC 8785 §3.2.2 / §3.2.3.
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys and gives the same bytes for the same statement', () => {
    const a = canonicalStatement(codeStatement('acme-cam-fw', '3.2.1', digest));
    const b = canonicalStatement({ subject: { digest, version: '3.2.1', name: 'acme-cam-fw' }, type: 'cm4it.code/v1' });
    assert.equal(
      Buffer.from(a).toString(),
      `{"subject":{"digest":{"sha256":"${digest.sha256}"},"name":"acme-cam-fw","version":"3.2.1"},"type":"cm4it.code/v1"}`,
    );
    assert.deepEqual(a, b);
  });

  it('refuses statements that are not canonical, have unknown fields or bad digests', () => {
    const good = Buffer.from(canonicalStatement(codeStatement('fw', '1', digest))).toString();
    const bad = [
      good.replace('{"subject"', '{ "subject"'),
      JSON.stringify({ type: 'cm4it.code/v1', subject: { name: 'fw', version: '1', digest } }),
      good.replace('"type"', '"extra":1,"type"'),
      good.replace(digest.sha256, 'AB'.repeat(32)),
      good.replace(`{"sha256":"${digest.sha256}"}`, '{}'),
      '{"type":"cm4it.code/v1"',
    ];
    for (const text of bad) {
      assert.throws(
        () => readCanonicalStatement(Buffer.from(text)),
        (e: unknown) => isIcsError(e, 'RECORD_MALFORMED'),
        text,
      );
    }
    assert.throws(
      () => codeStatement('', '1', digest),
      (e: unknown) => isIcsError(e, 'RECORD_MALFORMED'),
    );
  });

  it('a code record id is sha256: of the canonical statement', async () => {
    const statement = codeStatement('acme-cam-fw', '3.2.1', { sha512: 'cd'.repeat(64) });
    const { record } = await parseCodeRecord(codeRecordBytes(statement));
    const { createHash } = await import('node:crypto');
    assert.equal(record.id, `sha256:${createHash('sha256').update(canonicalStatement(statement)).digest('hex')}`);
    assert.equal(record.signatures.length, 0);
  });
});
