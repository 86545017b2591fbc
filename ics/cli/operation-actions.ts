// What the operations on records do (their definitions are in operations.ts): register,
// import, certify, status, revoke, code, show, verify, export. Each signs locally when it
// must, then goes through the node's ingest path like any other input, so the policy judges
// CLI writes as it judges the network's. Opens the data directory, store and policy only;
// the CA (enrol/) is loaded only for a birth certificate.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import type { UnlockedAuthority } from '../enrol/index.ts';
import { IcsError, type IcsErrorCode } from '../errors.ts';
import { DataDir, type IcsNode, loadConfig } from '../node/offline.ts';
import {
  armor,
  armorPrivateKey,
  certify,
  type CodeRecord,
  codeStatement,
  generateIdentity,
  type IdentityRecord,
  issuerFingerprint,
  type KeyAlgorithm,
  type KeyRecord,
  parseKeyRecord,
  revokeCertification,
  signCode,
  type StatementInput,
} from '../record/index.ts';
import type { CertificateEntry, RecordIndexes } from '../store/types.ts';
import { statementInput } from '../admin/statements.ts';
import { type AdminClient, outcomeOf, servingAdmin } from './admin-client.ts';
import { parseDuration, parsePairs } from './args.ts';
import { describeOutcome, localOrigin, print, resolveRecord, type SignerOptions, signingKey, withNode } from './context.ts';
import { refuseExisting, writeNewFile } from './files.ts';
import type { GlobalOptions } from './options.ts';

export type StatementFlags = GlobalOptions &
  SignerOptions & { role?: string; status?: string; allow?: string[]; deny?: string[]; meta?: string[]; expires?: string; userId?: string };

/** The node's CA for a birth certificate going to `file` (refused early if the file exists). */
async function birthAuthority(node: IcsNode, file: string): Promise<UnlockedAuthority> {
  await refuseExisting(file);
  const { unlockNodeAuthority } = await import('../node/ca.ts');
  return unlockNodeAuthority(node.dataDir, node.config);
}

function statementFrom(node: IcsNode, flags: StatementFlags, signerFingerprint: string): StatementInput {
  return statementInput(node.policy, { ...flags, metadata: parsePairs(flags.meta ?? []) }, signerFingerprint);
}

async function submit(node: IcsNode, record: IdentityRecord, flags: GlobalOptions) {
  const outcome = await node.ingest.submit(record.bytes, { source: 'cli', origin: localOrigin() });
  print(flags, outcome, () => describeOutcome(outcome));
  return outcome;
}

/** `certify`, `status set` and (withdraw) `revoke`: on the running node's admin API when one serves the data directory. */
export async function certifyCommand(reference: string, flags: StatementFlags, withdraw = false): Promise<void> {
  const admin = await servingAdmin(flags.data);
  if (admin) {
    if (flags.key) {
      const record = await onlineRecord(admin, reference);
      const key = await signingKey(await offlineSigner(flags), flags);
      const signed = withdraw
        ? await revokeCertification(record, key, { userId: flags.userId, reason: flags.status })
        : await certify(record, key, onlineStatement(flags), { userId: flags.userId, expiresInSeconds: flags.expires ? parseDuration(flags.expires) : undefined });
      await printOnline(flags, await admin.call('POST', '/ics/v1/admin/records', { armored: armor('publicKey', signed.bytes) }));
      return;
    }
    const path = `/ics/v1/admin/records/${encodeURIComponent(reference)}/${withdraw ? 'withdrawals' : 'statements'}`;
    const body = withdraw
      ? { ...(flags.status !== undefined && { reason: flags.status }), ...(flags.userId !== undefined && { userId: flags.userId }) }
      : statementBody(flags);
    await printOnline(flags, await admin.call('POST', path, body));
    return;
  }
  await withNode(flags, async (node) => {
    const record = await resolveRecord(node, reference);
    if (record.type !== 'key') throw new IcsError('BAD_REQUEST', `${record.id} is a code record: use \`ics code status\``);
    const key = await signingKey(node, flags);
    const fingerprint = issuerFingerprint(key);
    const signed = withdraw
      ? await revokeCertification(record, key, { userId: flags.userId, reason: flags.status })
      : await certify(record, key, statementFrom(node, flags, fingerprint), {
          userId: flags.userId,
          expiresInSeconds: flags.expires ? parseDuration(flags.expires) : undefined,
        });
    await submit(node, signed, flags);
  });
}

// ---- against a running node ----------------------------------------------------------------

/** The statement flags as an admin API body. */
function statementBody(flags: StatementFlags) {
  return {
    ...(flags.role !== undefined && { role: flags.role }),
    ...(flags.status !== undefined && { status: flags.status }),
    allow: flags.allow ?? [],
    deny: flags.deny ?? [],
    metadata: parsePairs(flags.meta ?? []),
    ...(flags.expires !== undefined && { expiresInSeconds: parseDuration(flags.expires) }),
    ...(flags.userId !== undefined && { userId: flags.userId }),
  };
}

/** A statement signed here with `--key` while the node runs: its role must be given (the node's policy says the default). */
function onlineStatement(flags: StatementFlags): StatementInput {
  if (flags.role === undefined) throw new IcsError('BAD_REQUEST', 'with --key while the node runs, give --role');
  return { role: flags.role as StatementInput['role'], ...(flags.status !== undefined && { status: flags.status }), allow: flags.allow ?? [], deny: flags.deny ?? [], metadata: parsePairs(flags.meta ?? []) };
}

/** What `--key` signs with while the node runs: the key file (or token key) named, read here. */
async function offlineSigner(flags: GlobalOptions) {
  const dataDir = new DataDir(flags.data);
  const config = await loadConfig(dataDir.configFile);
  return { dataDir, config, issuerKey: () => Promise.reject(new IcsError('INTERNAL', 'the node signs its own statements')) };
}

async function onlineRecord(admin: AdminClient, reference: string): Promise<KeyRecord> {
  const answer = await admin.call<{ id: string; kind: string; armored: string }>('GET', `/ics/v1/admin/records/${encodeURIComponent(reference)}`);
  if (answer.kind !== 'key') throw new IcsError('BAD_REQUEST', `${answer.id} is a code record: use \`ics code status\``);
  return (await parseKeyRecord(answer.armored)).record;
}

/** The running node's admin API, or UNAVAILABLE for commands that only a running node answers. */
async function runningAdmin(flags: GlobalOptions, command: string): Promise<AdminClient> {
  const admin = await servingAdmin(flags.data);
  if (!admin) throw new IcsError('UNAVAILABLE', `no node serves ${flags.data}: \`ics ${command}\` asks the running node (start it with \`ics serve --data ${flags.data}\`)`);
  return admin;
}

interface PeerLine {
  peerId: string;
  name?: string;
  connected: boolean;
  lastSync?: string;
  domains: Array<{ name: string; state: string; lastError?: string }>;
}

export async function peersCommand(flags: GlobalOptions): Promise<void> {
  const { peers } = await (await runningAdmin(flags, 'peers')).call<{ peers: PeerLine[] }>('GET', '/ics/v1/admin/peers');
  print(flags, { peers }, () => {
    if (peers.length === 0) return 'no sync peers (the policy names none, and no unknown peer called)';
    return peers
      .flatMap((p) => [
        `${p.name ?? '(unknown peer)'} ${p.peerId}: ${p.connected ? 'connected' : 'not connected'}, last sync ${p.lastSync ?? 'never'}`,
        ...p.domains.map((d) => `  ${d.name}: ${d.state}${d.lastError ? ` (${d.lastError})` : ''}`),
      ])
      .join('\n');
  });
}

export async function syncNowCommand(flags: GlobalOptions & { peer?: string }): Promise<void> {
  const report = await (await runningAdmin(flags, 'sync now')).call<{ peers: Array<{ peerId: string; name?: string; ok: boolean; error?: string }> }>(
    'POST',
    '/ics/v1/admin/sync',
    flags.peer === undefined ? {} : { peer: flags.peer },
  );
  print(flags, report, () => report.peers.map((p) => `${p.name ?? p.peerId}: ${p.ok ? 'reconciled' : `failed: ${p.error ?? 'no answer'}`}`).join('\n') || 'no peer to sync with');
  if (report.peers.some((p) => !p.ok)) process.exitCode = 1;
}

async function printOnline(flags: GlobalOptions, answer: unknown): Promise<void> {
  const outcome = outcomeOf(answer as Parameters<typeof outcomeOf>[0]);
  print(flags, outcome, () => describeOutcome(outcome));
}

export type RegisterFlags = StatementFlags & { urn: string; publicKey?: string; algorithm: string; keyOut?: string; birthCert?: string };

export async function deviceRegister(flags: RegisterFlags): Promise<void> {
  if (!flags.publicKey && !flags.keyOut) {
    throw new IcsError('BAD_REQUEST', 'give --public-key FILE (key made on the device) or --key-out FILE (where the new private key goes)');
  }
  if (flags.algorithm !== 'ed25519' && flags.algorithm !== 'p256') throw new IcsError('BAD_REQUEST', '--algorithm is ed25519 or p256');
  const admin = await servingAdmin(flags.data);
  if (admin) return deviceRegisterOnline(admin, flags);
  await withNode(flags, async (node) => {
    // The CA is unlocked first, so that without one (or with a wrong passphrase) nothing is registered.
    const birth = flags.birthCert === undefined ? undefined : { file: flags.birthCert, ca: await birthAuthority(node, flags.birthCert) };
    let base: KeyRecord;
    if (flags.publicKey) {
      base = (await parseKeyRecord(await readFile(flags.publicKey), { limits: node.limits })).record;
      if (!base.userIds.some((u) => u.userId === flags.urn)) throw new IcsError('BAD_REQUEST', `${flags.publicKey} has no user ID ${flags.urn}`);
    } else {
      const generated = await generateIdentity({ userId: flags.urn, algorithm: flags.algorithm as KeyAlgorithm });
      await writeFile(flags.keyOut as string, await armorPrivateKey(generated.privateKey, process.env.ICS_DEVICE_PASSPHRASE), { mode: 0o600, flag: 'wx' });
      base = generated.record;
    }
    const key = await signingKey(node, flags);
    const signed = await certify(base, key, statementFrom(node, flags, issuerFingerprint(key)), {
      userId: flags.urn,
      expiresInSeconds: flags.expires ? parseDuration(flags.expires) : undefined,
    });
    if (!birth) {
      await submit(node, signed, flags);
      return;
    }
    const outcome = await node.ingest.submit(signed.bytes, { source: 'cli', origin: localOrigin() });
    // Already loaded with the CA above.
    const { issueBirthCertificate } = await import('../enrol/index.ts');
    const issued = await issueBirthCertificate(birth.ca, signed, { userId: flags.urn });
    await writeNewFile(birth.file, issued.pem);
    const birthCertificate = { file: birth.file, subject: issued.subject, serial: issued.serial, notAfter: issued.notAfter, fingerprint: issued.fingerprint };
    print(flags, { ...outcome, birthCertificate }, () => `${describeOutcome(outcome)}\n  birth certificate ${birth.file}: ${issued.subject}, serial ${issued.serial}`);
  });
}

/** `device register` while the node runs: the key made (or read) here, the node certifies it. */
async function deviceRegisterOnline(admin: AdminClient, flags: RegisterFlags): Promise<void> {
  if (flags.birthCert !== undefined) throw new IcsError('UNAVAILABLE', '--birth-cert needs the CA, which the running node holds: stop it first, or enrol the device over EST');
  let base: KeyRecord;
  if (flags.publicKey) {
    base = (await parseKeyRecord(await readFile(flags.publicKey))).record;
    if (!base.userIds.some((u) => u.userId === flags.urn)) throw new IcsError('BAD_REQUEST', `${flags.publicKey} has no user ID ${flags.urn}`);
  } else {
    await refuseExisting(flags.keyOut as string);
    const generated = await generateIdentity({ userId: flags.urn, algorithm: flags.algorithm as KeyAlgorithm });
    await writeFile(flags.keyOut as string, await armorPrivateKey(generated.privateKey, process.env.ICS_DEVICE_PASSPHRASE), { mode: 0o600, flag: 'wx' });
    base = generated.record;
  }
  if (flags.key) {
    const key = await signingKey(await offlineSigner(flags), flags);
    const signed = await certify(base, key, onlineStatement(flags), { userId: flags.urn, expiresInSeconds: flags.expires ? parseDuration(flags.expires) : undefined });
    await printOnline(flags, await admin.call('POST', '/ics/v1/admin/records', { armored: armor('publicKey', signed.bytes) }));
    return;
  }
  const { userId: _userId, ...statement } = statementBody(flags);
  await printOnline(flags, await admin.call('POST', '/ics/v1/admin/devices', { ...statement, urn: flags.urn, publicKey: armor('publicKey', base.bytes) }));
}

export type ImportFlags = GlobalOptions & { progress?: boolean; concurrency: string };

export async function deviceImport(file: string | undefined, flags: ImportFlags): Promise<void> {
  const input = await readInput(file);
  await withNode(flags, async (node) => {
    const bar = flags.progress || process.stderr.isTTY ? new SingleBar({ stream: process.stderr, format: 'import [{bar}] {value}/{total} records  {eta}s left' }) : undefined;
    let started = false;
    const result = await node.ingest.submitBatch(input, { source: 'import', origin: localOrigin() }, {
      concurrency: Number(flags.concurrency) || 32,
      onProgress: (done, total) => {
        if (!bar) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    });
    bar?.stop();
    const rejections = new Map<IcsErrorCode, number>();
    for (const r of result.results) if (r.error) rejections.set(r.error.code, (rejections.get(r.error.code) ?? 0) + 1);
    const summary = { ...result.counts, rejectedByCode: Object.fromEntries(rejections), results: result.results };
    print(flags, summary, () => {
      const lines = [`accepted ${result.counts.inserted}, merged ${result.counts.updated}, unchanged ${result.counts.unchanged}, rejected ${result.counts.rejected}`];
      for (const [code, n] of rejections) lines.push(`  ${code}: ${n}`);
      for (const r of result.results.filter((x) => x.error).slice(0, 20)) lines.push(`  record #${r.index + 1}: ${r.error?.code}: ${r.error?.message}`);
      return lines.join('\n');
    });
    if (result.counts.rejected > 0) process.exitCode = 1;
  });
}

export type CodePublishFlags = StatementFlags & { name: string; version: string; file?: string; sha256?: string; sha512?: string };

export async function codePublish(flags: CodePublishFlags): Promise<void> {
  const digest = flags.file ? await fileDigests(flags.file) : { ...(flags.sha256 && { sha256: flags.sha256.toLowerCase() }), ...(flags.sha512 && { sha512: flags.sha512.toLowerCase() }) };
  const statement = codeStatement(flags.name, flags.version, digest);
  const admin = await servingAdmin(flags.data);
  if (admin) {
    if (flags.key) throw new IcsError('BAD_REQUEST', 'code signed with --key needs the node stopped (while it runs, the node signs: leave out --key)');
    const { userId: _userId, ...body } = statementBody(flags);
    await printOnline(flags, await admin.call('POST', '/ics/v1/admin/code', { ...body, name: statement.subject.name, version: statement.subject.version, ...statement.subject.digest }));
    return;
  }
  await withNode(flags, async (node) => {
    const key = await signingKey(node, flags);
    const record = await signCode(statement, key, statementFrom(node, flags, issuerFingerprint(key)), {
      expiresInSeconds: flags.expires ? parseDuration(flags.expires) : undefined,
    });
    await submit(node, record, flags);
  });
}

export async function codeStatus(reference: string, value: string, flags: StatementFlags): Promise<void> {
  const admin = await servingAdmin(flags.data);
  if (admin) {
    if (flags.key) throw new IcsError('BAD_REQUEST', 'code signed with --key needs the node stopped (while it runs, the node signs: leave out --key)');
    const { userId: _userId, ...body } = statementBody({ ...flags, status: value });
    await printOnline(flags, await admin.call('POST', `/ics/v1/admin/records/${encodeURIComponent(reference)}/statements`, body));
    return;
  }
  await withNode(flags, async (node) => {
    const record = await resolveRecord(node, reference);
    if (record.type !== 'code') throw new IcsError('BAD_REQUEST', `${record.id} is not a code record`);
    const key = await signingKey(node, flags);
    const signed = await signCode(record.statement, key, statementFrom(node, { ...flags, status: value }, issuerFingerprint(key)), {
      record: record as CodeRecord,
    });
    await submit(node, signed, flags);
  });
}

export async function show(reference: string, flags: GlobalOptions): Promise<void> {
  await withNode(flags, async (node) => {
    const record = await resolveRecord(node, reference);
    const stored = await node.store.get(record.id);
    const history = await node.store.history(record.id);
    const certificates = certificateHistory(await node.store.certificatesOf(record.id));
    const value = { ...summarise(record), domains: stored?.domains ?? [], history, certificates };
    print(flags, value, () => showText(value, history, certificates));
  });
}

export async function verify(reference: string, flags: GlobalOptions): Promise<void> {
  await withNode(flags, async (node) => {
    const record = await resolveRecord(node, reference);
    const verdict = node.policy.verdict(record);
    print(flags, verdict, () =>
      [
        `${verdict.trusted ? 'TRUSTED' : 'NOT TRUSTED'} ${verdict.kind} ${verdict.id}`,
        `  status: ${verdict.status ?? 'none'}${verdict.statusSetBy ? ` (set by ${verdict.statusSetBy.role} ${node.policy.issuerName(verdict.statusSetBy.issuer) ?? verdict.statusSetBy.issuer} on ${verdict.statusSetBy.at.toISOString()})` : ''}`,
        `  domains: ${verdict.domains.join(', ') || '(none)'}`,
        `  roles: ${verdict.roles.map((r) => `${r.role} (${node.policy.issuerName(r.issuer) ?? r.issuer})`).join(', ') || '(none)'}`,
        ...(verdict.authorizations.allow.length + verdict.authorizations.deny.length > 0
          ? [`  allow: ${verdict.authorizations.allow.join(', ') || '-'}; deny: ${verdict.authorizations.deny.join(', ') || '-'}`]
          : []),
        ...verdict.reasons.map((r) => `  [${r.severity}] ${r.code}: ${r.message}`),
      ].join('\n'),
    );
    process.exitCode = verdict.trusted ? 0 : 1;
  });
}

export type ExportFlags = GlobalOptions & { domain?: string; binary?: boolean; out?: string };

export async function exportRecords(references: string[], flags: ExportFlags): Promise<void> {
  await withNode(flags, async (node) => {
    const ids = references.length > 0 ? (await Promise.all(references.map((r) => resolveRecord(node, r)))).map((r) => r.id) : await allIds(node.store, flags.domain);
    const chunks: (string | Uint8Array)[] = [];
    for (const stored of await node.store.getMany(ids)) {
      if (!stored) continue;
      if (flags.binary) chunks.push(stored.bytes);
      else chunks.push(armor(stored.kind === 'code' ? 'message' : 'publicKey', stored.bytes));
    }
    const output = flags.binary ? Buffer.concat(chunks as Uint8Array[]) : (chunks as string[]).join('');
    if (flags.out) await writeFile(flags.out, output);
    else process.stdout.write(output);
  });
}

async function allIds(store: RecordIndexes, domain: string | undefined): Promise<string[]> {
  const ids: string[] = [];
  const page = 1000;
  const lists = domain ? [(after?: string) => store.listDomain(domain, { limit: page, after })] : (['device', 'gateway', 'service', 'org', 'key', 'code'] as const).map((k) => (after?: string) => store.listKind(k, { limit: page, after }));
  for (const list of lists) {
    let after: string | undefined;
    for (;;) {
      const batch = await list(after);
      ids.push(...batch);
      if (batch.length < page) break;
      after = batch.at(-1);
    }
  }
  return ids;
}

async function readInput(file: string | undefined): Promise<Buffer> {
  const stream = !file || file === '-' ? process.stdin : createReadStream(file);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function fileDigests(file: string): Promise<{ sha256: string; sha512: string }> {
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  for await (const chunk of createReadStream(file)) {
    sha256.update(chunk as Buffer);
    sha512.update(chunk as Buffer);
  }
  return { sha256: sha256.digest('hex'), sha512: sha512.digest('hex') };
}

function summarise(record: IdentityRecord) {
  const signatures = (record.type === 'code' ? record.signatures : record.userIds.flatMap((u) => u.signatures.map((s) => ({ ...s, userId: u.userId })))).map((s) => ({
    type: `0x${s.type.toString(16).padStart(2, '0')}`,
    issuer: s.issuer,
    self: s.self,
    created: s.created,
    expires: s.expires,
    notations: s.notations,
  }));
  return {
    id: record.id,
    kind: record.kind,
    digest: record.digest,
    bytes: record.bytes.length,
    ...(record.type === 'key' ? { userIds: record.userIds.map((u) => u.userId), algorithm: record.primaryKey.algorithmName, created: record.primaryKey.created } : { statement: record.statement }),
    signatures,
  };
}

/** What the CA did about a record: each issuance, and each revocation with its reason, oldest first. */
function certificateHistory(entries: readonly CertificateEntry[]): Array<{ at: Date; event: 'issued' | 'revoked'; serial: string; purpose: string; reason?: string }> {
  return entries
    .flatMap((c) => [
      { at: c.issuedAt, event: 'issued' as const, serial: c.serial, purpose: c.purpose },
      ...(c.revoked ? [{ at: c.revoked.at, event: 'revoked' as const, serial: c.serial, purpose: c.purpose, reason: c.revoked.reason }] : []),
    ])
    .sort((a, b) => a.at.getTime() - b.at.getTime());
}

function showText(
  value: ReturnType<typeof summarise> & { domains: readonly string[] },
  history: ReadonlyArray<{ seq: number; at: Date; source: string; summary: string }>,
  certificates: ReturnType<typeof certificateHistory>,
): string {
  const lines = [`${value.kind} ${value.id}`, `  digest ${value.digest} (${value.bytes} bytes), domains: ${value.domains.join(', ') || '(none)'}`];
  if ('userIds' in value) lines.push(`  user IDs: ${value.userIds?.join(', ')}`, `  key: ${value.algorithm}, created ${value.created?.toISOString()}`);
  if ('statement' in value) lines.push(`  statement: ${JSON.stringify(value.statement)}`);
  lines.push('  signatures:');
  for (const s of value.signatures) {
    const notes = s.notations.map((n) => `${n.name}=${n.value}`).join(' ');
    lines.push(`    ${s.type} ${s.self ? 'self' : s.issuer} ${s.created.toISOString()}${s.expires ? ` expires ${s.expires.toISOString()}` : ''} ${notes}`);
  }
  lines.push('  history:');
  for (const e of history) lines.push(`    #${e.seq} ${e.at.toISOString()} ${e.source}: ${e.summary}`);
  if (certificates.length > 0) {
    lines.push('  certificates:');
    for (const c of certificates) lines.push(`    ${c.at.toISOString()} ${c.purpose} certificate ${c.serial} ${c.event}${c.reason ? ` (${c.reason})` : ''}`);
  }
  return lines.join('\n');
}
