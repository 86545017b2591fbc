// The enrolment core without the EST front end: when writing the issuance statement into the
// device record fails after the certificate was made, the certificate stays issued and
// indexed, the answer says the statement was not written, and the log says so at error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CertificateAuthority, Enrolment, readCertificates } from '../../ics/enrol/index.ts';
import { type IcsNode, openNode } from '../../ics/node/index.ts';
import { requireTool } from '../helpers/tools.ts';
import { buildWorld, deviceUrn } from '../est/world.ts';
import { tempDirs } from './helpers.ts';

describe('enrol/enrolment: a failed record write after issuance', function () {
  this.timeout(120_000);
  const tmp = tempDirs('ics-enrolment-');
  let node: IcsNode;
  let ids: Record<string, string>;
  before(async () => {
    await tmp.make();
    ({ ids } = await buildWorld(tmp.path));
    node = await openNode(join(tmp.path, 'system'), { logger: pino({ level: 'silent' }) });
  });
  after(async () => {
    await node?.close();
    await tmp.clean();
  });

  it('keeps the certificate issued and indexed, says the statement is missing, logs it at error', async () => {
    requireTool('openssl', 'openssl');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'op.key', '-subj', `/CN=${deviceUrn('SN4')}`, '-outform', 'DER', '-out', 'op.der'], {
      cwd: tmp.path,
      stdio: 'ignore',
    });
    const logged: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) logged.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const passphrase = (await readFile(join(tmp.path, 'system/keys/issuer.passphrase'), 'utf8')).trim();
    const enrolment = new Enrolment({
      store: node.store,
      policy: () => node.policy,
      authority: await new CertificateAuthority(join(tmp.path, 'system/ca')).unlock(passphrase),
      submitter: {
        submit: async () => {
          throw new Error('disk full');
        },
      },
      issuerKey: () => node.issuerKey(),
      logger: pino({ level: 'info' }, sink),
    });
    const [birth] = readCertificates(await readFile(join(tmp.path, 'SN4.pem')));
    const enrolled = await enrolment.enrol({ clientCertificates: [new Uint8Array(birth?.rawData ?? [])], csr: await readFile(join(tmp.path, 'op.der')) });
    assert.ok(!enrolled.pending, 'approval is automatic');
    assert.deepEqual(enrolled.statement, { written: false, reason: 'the record write failed' });
    const indexed = await node.store.getCertificate(enrolled.certificate.serial);
    assert.equal(indexed?.recordId, ids.SN4);
    assert.equal(indexed?.sha256, enrolled.certificate.fingerprint);
    const error = logged.find((l) => l.msg === 'issuance statement could not be written to the device record (the certificate is issued and indexed)');
    assert.equal(error?.serial, enrolled.certificate.serial);
    assert.equal(error?.level, 50);
  });
});
