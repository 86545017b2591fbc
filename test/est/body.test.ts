// EST bodies (RFC 7030 §4.2.1, RFC 8951 §3): base64 DER with or without line breaks (LF or
// CRLF), PEM as it came, anything else refused as a bad request; answers in 64-column lines.
import assert from 'node:assert/strict';
import { base64Lines, requestBytes } from '../../ics/est/index.ts';
import { isIcsError } from '../../ics/errors.ts';

const DER = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
const refusedAsBadRequest = (run: () => unknown) => assert.throws(run, (e: unknown) => isIcsError(e, 'BAD_REQUEST'));

describe('est/body: base64 in, base64 out', () => {
  it('reads base64 in one line, in lines, with CRLF and trailing space', () => {
    const text = DER.toString('base64');
    assert.deepEqual(Buffer.from(requestBytes(Buffer.from(text))), DER);
    assert.deepEqual(Buffer.from(requestBytes(Buffer.from(base64Lines(DER)))), DER);
    assert.deepEqual(Buffer.from(requestBytes(Buffer.from(`${text.replace(/(.{76})/g, '$1\r\n')}\r\n  `))), DER);
  });

  it('passes PEM through for the request parser', () => {
    const pem = Buffer.from(`-----BEGIN CERTIFICATE REQUEST-----\n${DER.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
    assert.equal(requestBytes(pem), pem);
  });

  it('refuses an empty body and text that is not base64', () => {
    refusedAsBadRequest(() => requestBytes(undefined));
    refusedAsBadRequest(() => requestBytes(Buffer.alloc(0)));
    refusedAsBadRequest(() => requestBytes(Buffer.from('not base64!')));
    refusedAsBadRequest(() => requestBytes(Buffer.from('QUJD=QUJD')));
    refusedAsBadRequest(() => requestBytes(Buffer.from('QUJDR')));
  });

  it('answers in lines of 64 characters ending in a line break', () => {
    const lines = base64Lines(DER).split('\n');
    assert.equal(lines.pop(), '');
    assert.ok(lines.every((l) => l.length <= 64));
    assert.equal(lines.join(''), DER.toString('base64'));
  });
});
