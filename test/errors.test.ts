import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, IcsError } from '../ics/errors.ts';

describe('errors', () => {
  it('maps every code to an HTTP status and an LDAP result code', () => {
    for (const [code, map] of Object.entries(ERROR_CODES)) {
      assert.ok(map.http >= 400 && map.http < 600, code);
      assert.ok(Number.isInteger(map.ldap) && map.ldap > 0, code);
    }
    assert.equal(new IcsError('POLICY_REJECTED', 'x').httpStatus, 403);
    assert.equal(new IcsError('POLICY_REJECTED', 'x').ldapResultCode, 50);
    assert.equal(new IcsError('NOT_FOUND', 'x').ldapResultCode, 32);
  });

  it('server-side errors expose only a fixed text', () => {
    assert.equal(new IcsError('INTERNAL', 'stack details').publicMessage, 'internal error');
    assert.equal(new IcsError('RECORD_MALFORMED', 'packet 3: truncated').publicMessage, 'packet 3: truncated');
  });

  it('README documents every error code', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ERROR_CODES)) assert.ok(readme.includes(`\`${code}\``), `README lacks ${code}`);
  });
});
