// EST bodies (RFC 7030 §4.1.3, §4.2.1 as RFC 8951 §3 clarifies them): base64 of the DER, with
// or without line breaks; a Content-Transfer-Encoding header means nothing in HTTP and is
// ignored. A PEM request is taken too: its label says what it is.
import { IcsError } from '../errors.ts';
import { BASE64_LINE } from './limits.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The request's bytes: DER from base64 (whitespace ignored), or the PEM text as it came. */
export function requestBytes(body: Buffer | undefined): Uint8Array {
  if (body === undefined || body.length === 0) throw new IcsError('BAD_REQUEST', 'no body: send the PKCS#10 request as base64-encoded DER (Content-Type: application/pkcs10)');
  const text = body.toString('latin1');
  if (text.trimStart().startsWith('-----BEGIN ')) return body;
  const compact = text.replace(/[\r\n\t ]+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1) {
    throw new IcsError('BAD_REQUEST', 'the body is not base64: send the PKCS#10 request as base64-encoded DER (RFC 7030 §4.2.1, RFC 8951)');
  }
  return Buffer.from(compact, 'base64');
}

/** DER as base64 in lines of BASE64_LINE characters, ending in a line break. */
export function base64Lines(der: Uint8Array): string {
  const text = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < text.length; at += BASE64_LINE) lines.push(text.slice(at, at + BASE64_LINE));
  return `${lines.join('\n')}\n`;
}
