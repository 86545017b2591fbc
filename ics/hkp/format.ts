// HKP output formats: the machine-readable index (draft-shaw-openpgp-hkp-00 §5.2:
// `info:` / `pub:` / `uid:` lines, percent-escaped user IDs, flags r/d/e, dates in seconds
// since the epoch), which GnuPG's --search-keys reads, and the human-readable HTML index,
// verbose index and stats pages.
import { type KeyRecord, SigType, type VerifiedSignature } from '../record/index.ts';

const CERTIFICATIONS: ReadonlySet<number> = new Set([SigType.certGeneric, SigType.certPersona, SigType.certCasual, SigType.certPositive]);

export interface UserIdSummary {
  readonly userId: string;
  readonly created: Date | undefined;
  readonly expires: Date | undefined;
  readonly revoked: boolean;
  readonly expired: boolean;
  readonly signatures: readonly VerifiedSignature[];
}

export interface KeySummary {
  readonly record: KeyRecord;
  readonly expires: Date | undefined;
  readonly revoked: boolean;
  readonly expired: boolean;
  readonly userIds: readonly UserIdSummary[];
}

const newest = (sigs: readonly VerifiedSignature[]) =>
  sigs.reduce<VerifiedSignature | undefined>((a, s) => (a === undefined || s.created > a.created ? s : a), undefined);

/** What an index shows of a key: expiry and revocation as its own self-signatures state them. */
export function summariseKey(record: KeyRecord, now = new Date()): KeySummary {
  const t = now.getTime();
  const revoked = record.keySignatures.some((s) => s.self && s.type === SigType.keyRevocation);
  const selfCerts = record.userIds.flatMap((u) => u.signatures.filter((s) => s.self && CERTIFICATIONS.has(s.type)));
  const expires = newest(selfCerts)?.keyExpires;
  const userIds = record.userIds.map((u): UserIdSummary => {
    const cert = newest(u.signatures.filter((s) => s.self && CERTIFICATIONS.has(s.type)));
    const revocation = newest(u.signatures.filter((s) => s.self && s.type === SigType.certRevocation));
    const uidExpires = cert?.expires;
    return {
      userId: u.userId,
      created: cert?.created,
      expires: uidExpires,
      revoked: revocation !== undefined && (cert === undefined || revocation.created >= cert.created),
      expired: uidExpires !== undefined && uidExpires.getTime() <= t,
      signatures: u.signatures,
    };
  });
  return { record, expires, revoked, expired: expires !== undefined && expires.getTime() <= t, userIds };
}

const seconds = (d: Date | undefined) => (d === undefined ? '' : String(Math.floor(d.getTime() / 1000)));

/**
 * Percent-escapes a user ID for an mr `uid:` line: every byte of its UTF-8 that is not
 * printable ASCII, and `:` and `%`, as %XX (GnuPG decodes it back to UTF-8).
 */
export function escapeMr(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x3a || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

const flags = (x: { revoked: boolean; expired: boolean }) => `${x.revoked ? 'r' : ''}${x.expired ? 'e' : ''}`;

/** The machine-readable index (also the answer to mr vindex). */
export function mrIndex(keys: readonly KeySummary[]): string {
  const lines = [`info:1:${keys.length}`];
  for (const k of keys) {
    const p = k.record.primaryKey;
    lines.push(`pub:${p.fingerprint.toUpperCase()}:${p.algorithm}:${p.bits}:${seconds(p.created)}:${seconds(k.expires)}:${flags(k)}`);
    for (const u of k.userIds) lines.push(`uid:${escapeMr(u.userId)}:${seconds(u.created)}:${seconds(u.expires)}:${flags(u)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const day = (d: Date | undefined) => (d === undefined ? '__________' : d.toISOString().slice(0, 10));
const spaced = (fingerprint: string) => fingerprint.toUpperCase().replace(/(.{4})/g, '$1 ').trim();

const SIG_NAMES: Readonly<Record<number, string>> = {
  [SigType.certGeneric]: 'sig',
  [SigType.certPersona]: 'sig1',
  [SigType.certCasual]: 'sig2',
  [SigType.certPositive]: 'sig3',
  [SigType.certRevocation]: 'revok',
  [SigType.directKey]: 'dkey',
  [SigType.keyRevocation]: 'krev',
  [SigType.subkeyBinding]: 'sbind',
  [SigType.subkeyRevocation]: 'srev',
};

function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body><h1>${escapeHtml(title)}</h1>\n${body}</body></html>\n`;
}

export interface HtmlIndexOptions {
  readonly search: string;
  readonly verbose: boolean;
  readonly fingerprints: boolean;
  readonly truncated: boolean;
  /** The policy's name for a trusted issuer. */
  readonly issuerName: (fingerprint: string) => string | undefined;
}

/** op=index / op=vindex for people: one <pre> block per key, links to op=get. */
export function htmlIndex(keys: readonly KeySummary[], options: HtmlIndexOptions): string {
  const blocks = keys.map((k) => {
    const p = k.record.primaryKey;
    const link = `/pks/lookup?op=get&amp;search=0x${p.fingerprint.toUpperCase()}`;
    const lines = [
      `<strong>pub</strong>  ${escapeHtml(p.algorithmName)}/<a href="${link}">${p.keyId.toUpperCase()}</a> ${day(p.created)}` +
        `${k.revoked ? ' *** KEY REVOKED ***' : ''}${k.expired ? ' *** KEY EXPIRED ***' : ''}`,
    ];
    if (options.fingerprints || options.verbose) lines.push(`\t Fingerprint=${spaced(p.fingerprint)}`);
    if (options.verbose) for (const s of k.record.keySignatures) lines.push(sigLine(s, options));
    for (const u of k.userIds) {
      lines.push('', `<strong>uid</strong> ${escapeHtml(u.userId)}${u.revoked ? ' *** REVOKED ***' : ''}`);
      if (options.verbose) for (const s of u.signatures) lines.push(sigLine(s, options));
    }
    for (const sub of k.record.subkeys) {
      lines.push('', `<strong>sub</strong>  ${escapeHtml(sub.key.algorithmName)}/${sub.key.keyId.toUpperCase()} ${day(sub.key.created)}`);
      if (options.fingerprints || options.verbose) lines.push(`\t Fingerprint=${spaced(sub.key.fingerprint)}`);
      if (options.verbose) for (const s of sub.signatures) lines.push(sigLine(s, options));
    }
    return `<pre>\n${lines.join('\n')}\n</pre>`;
  });
  const more = options.truncated ? '<p>More keys matched than are listed here; refine the search.</p>\n' : '';
  return page(`Search results for '${options.search}'`, `${blocks.join('\n<hr />\n')}\n${more}`);
}

function sigLine(s: VerifiedSignature, options: HtmlIndexOptions): string {
  const name = SIG_NAMES[s.type] ?? `0x${s.type.toString(16)}`;
  const who = s.self ? '[selfsig]' : (options.issuerName(s.issuer) ?? `[${s.issuer.toUpperCase()}]`);
  const notes = s.notations.map((n) => ` ${escapeHtml(`${n.name}=${n.value}`)}`).join('');
  return `sig  ${name.padEnd(5)} ${s.issuer.slice(-16).toUpperCase()} ${day(s.created)} ${day(s.expires)} ${escapeHtml(who)}${notes}`;
}

export interface StatsView {
  readonly name: string;
  readonly role: string;
  readonly version: string;
  readonly software: string;
  /** Node-wide figures: absent unless the caller may read every domain (figures.ts). */
  readonly records?: number;
  readonly byKind?: Readonly<Record<string, number>>;
  readonly lastSeq?: number;
  readonly domains: readonly string[];
  /** Records per readable domain. */
  readonly domainRecords: Readonly<Record<string, number>>;
}

export function htmlStats(s: StatsView): string {
  const rows = [
    ['Software', `${s.software} ${s.version}`],
    ['Node', `${s.name} (${s.role})`],
    ...(s.records === undefined ? [] : [['Records', String(s.records)]]),
    ...Object.entries(s.byKind ?? {}).map(([kind, n]) => [`  ${kind}`, String(n)]),
    ...(s.lastSeq === undefined ? [] : [['Changes accepted', String(s.lastSeq)]]),
    ['Domains you may read', s.domains.join(', ') || '(none)'],
    ...Object.entries(s.domainRecords).map(([domain, n]) => [`  ${domain}`, `${n} records`]),
  ];
  const table = rows.map(([k, v]) => `<tr><td>${escapeHtml(k as string)}</td><td>${escapeHtml(v as string)}</td></tr>`).join('\n');
  return page(`${s.name} keyserver statistics`, `<table>\n${table}\n</table>\n`);
}
