// Leak matrix: on the four-role mesh, records planted in maintenance's private domains
// `devices` (any authenticated user; the manufacturer peer) and `system` (the user
// `operator`; the infield peer) and its public domain `firmware`, then asked for over every
// interface — HKP get/index/vindex/stats, the JSON API (record, verdict, history, status),
// /metrics, LDAP (by icsId, by a word of the user ID, by icsDomain, pgpKeyInfo, paged) and
// sync (an unknown peer, the manufacturer peer, the infield peer) — by an anonymous caller, an
// authenticated user without the right (`guest`) and one with it (`operator`). A cell counts
// the planted records of a domain that were served. Figures (counts) served are compared
// with what the caller may read: a total above it, or a count named after a domain the
// caller may not read, is a figure leak.
import { join } from 'node:path';
import { Mode, MessageType, type Message } from '../../ics/sync/codec.ts';
import { loadOrCreatePeerKey, type PeerKey } from '../../ics/sync/index.ts';
import { openPolicy } from '../../ics/policy/index.ts';
import { pagedControl, type Response, WireClient } from '../../test/ldap/wire.ts';
import { rawPeer } from '../../test/sync/helpers/raw-peer.ts';
import { seededRandom, TempDirs } from './common.ts';
import { type MeshUser, type Planted, plantDevice, plantFirmware, plantService, type RelMesh, startRelMesh, submit } from './mesh.ts';

export const DOMAINS = ['devices', 'system', 'firmware'] as const;
export type Domain = (typeof DOMAINS)[number];
export type Caller = 'anonymous' | MeshUser | 'peer:unknown' | 'peer:manufacturer' | 'peer:infield';

/** Who may read what on maintenance (the mesh's policy as startRelMesh narrows it). */
export function mayRead(caller: Caller, domain: Domain): boolean {
  if (domain === 'firmware') return caller !== 'peer:unknown';
  if (domain === 'devices') return caller === 'guest' || caller === 'operator' || caller === 'peer:manufacturer';
  return caller === 'operator' || caller === 'peer:infield';
}

export interface LeakCell {
  readonly iface: string;
  readonly caller: Caller;
  readonly domain: Domain;
  /** Planted records of the domain this interface can serve (keys only over HKP). */
  readonly planted: number;
  readonly served: number;
  readonly allowed: boolean;
}

export interface FigureLeak {
  readonly iface: string;
  readonly caller: Caller;
  readonly what: string;
}

export interface LeakReport {
  readonly cells: LeakCell[];
  readonly figureLeaks: FigureLeak[];
  /** Figure probes that saw what they check (sanity: the probe can see a count at all). */
  readonly figureChecks: number;
  /** Private records served to callers the policy does not name. */
  readonly recordsLeaked: number;
  /** Cells where a caller the policy names got fewer records than planted (the probe works). */
  readonly underServed: LeakCell[];
}

const HTTP_CALLERS = ['anonymous', 'guest', 'operator'] as const;

function mentions(text: string, record: Planted): boolean {
  const lower = text.toLowerCase();
  if (lower.includes(record.id.toLowerCase()) || text.includes(record.userId)) return true;
  return record.kind === 'key' && lower.includes(record.id.slice(-16).toLowerCase());
}

function entryText(entry: Response): string {
  return [entry.dn ?? '', ...[...(entry.attributes ?? new Map<string, string[]>()).values()].flat()].join('\n');
}

async function get(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(30_000) });
  return { status: response.status, text: await response.text() };
}

export async function runLeak(options: { perDomain: number; seed: number; log?: (line: string) => void }): Promise<LeakReport> {
  const log = options.log ?? (() => undefined);
  const rng = seededRandom(options.seed);
  const temp = new TempDirs();
  const m = await startRelMesh(await temp.make('leak'));
  try {
    return await matrix(m, options.perDomain, rng, log);
  } finally {
    await m.stop();
    await temp.cleanup();
  }
}

async function matrix(m: RelMesh, perDomain: number, rng: ReturnType<typeof seededRandom>, log: (line: string) => void): Promise<LeakReport> {
  const base = m.url.maintenance;
  const operator = m.auth('operator');
  const before = (JSON.parse((await get(base, '/ics/v1/status', operator)).text) as { store: { records?: number } }).store.records ?? 0;
  const planted: Planted[] = [];
  for (let i = 0; i < perDomain; i++) {
    planted.push(await plantDevice(m, `leakprobe:dev${i}`));
    planted.push(await plantService(m, `leakprobe:svc${i}`));
    planted.push(await plantFirmware(m, `leakprobe-fw${i}`, `1.0.${i}`, rng));
  }
  for (const p of planted) {
    const status = await submit(base, p, operator);
    if (status !== 200 && status !== 201) throw new Error(`planting ${p.domain} record ${p.id}: HTTP ${status}`);
  }
  log(`leak: ${planted.length} records planted on maintenance (${perDomain} per domain), ${before} there before`);
  const byDomain = (d: Domain) => planted.filter((p) => p.domain === d);
  const cells: LeakCell[] = [];
  const figureLeaks: FigureLeak[] = [];
  let figureChecks = 0;
  const cell = (iface: string, caller: Caller, domain: Domain, candidates: readonly Planted[], served: (p: Planted) => boolean) => {
    if (candidates.length === 0) return;
    cells.push({ iface, caller, domain, planted: candidates.length, served: candidates.filter(served).length, allowed: mayRead(caller, domain) });
  };
  /** Records a caller may read: the planted ones of its domains, plus whatever was there before (not private to it, or not). */
  const allowance = (caller: Caller) => planted.filter((p) => mayRead(caller, p.domain)).length + before;

  // ---- HTTP -----------------------------------------------------------------------------
  for (const caller of HTTP_CALLERS) {
    const headers = caller === 'anonymous' ? {} : m.auth(caller);
    for (const op of ['index', 'vindex'] as const) {
      const { text } = await get(base, `/pks/lookup?op=${op}&options=mr&search=leakprobe`, headers);
      for (const d of DOMAINS) cell(`hkp.${op}`, caller, d, byDomain(d).filter((p) => p.kind === 'key'), (p) => mentions(text, p));
    }
    const served = new Map<string, Set<string>>();
    for (const p of planted) {
      const probes: Array<[string, string]> = [
        ['json.record', `/ics/v1/records/${encodeURIComponent(p.id)}`],
        ['json.verify', `/ics/v1/verify/${encodeURIComponent(p.id)}`],
        ['json.history', `/ics/v1/records/${encodeURIComponent(p.id)}/history`],
      ];
      if (p.kind === 'key') probes.push(['hkp.get', `/pks/lookup?op=get&options=mr&search=0x${p.id}`]);
      else probes.push(['json.code', `/ics/v1/code/${encodeURIComponent(p.id)}`]);
      for (const [iface, path] of probes) {
        const { status } = await get(base, path, headers);
        if (status === 200) (served.get(iface) ?? served.set(iface, new Set()).get(iface))?.add(p.id);
        else if (status !== 404) throw new Error(`${iface} ${path} as ${caller}: HTTP ${status}`);
      }
    }
    for (const iface of ['hkp.get', 'json.record', 'json.verify', 'json.history', 'json.code']) {
      for (const d of DOMAINS) {
        const candidates = byDomain(d).filter((p) => (iface === 'hkp.get' ? p.kind === 'key' : iface === 'json.code' ? p.kind === 'code' : true));
        if (candidates.length > 0) cell(iface, caller, d, candidates, (p) => served.get(iface)?.has(p.id) === true);
      }
    }

    // Figures: op=stats, /ics/v1/status, /metrics.
    const limit = allowance(caller);
    const unreadable = DOMAINS.filter((d) => !mayRead(caller, d));
    const stats = await get(base, '/pks/lookup?op=stats&options=mr', headers);
    if (stats.status === 200) {
      figureChecks++;
      const body = JSON.parse(stats.text) as { records?: number; domainRecords?: Record<string, number>; byKind?: Record<string, number> };
      for (const d of unreadable) if (body.domainRecords?.[d] !== undefined) figureLeaks.push({ iface: 'hkp.stats', caller, what: `domainRecords.${d} = ${body.domainRecords[d]}` });
      if ((body.records ?? 0) > limit) figureLeaks.push({ iface: 'hkp.stats', caller, what: `records = ${body.records} > ${limit} readable` });
      const kinds = Object.values(body.byKind ?? {}).reduce((a, b) => a + b, 0);
      if (kinds > limit) figureLeaks.push({ iface: 'hkp.stats', caller, what: `byKind sums to ${kinds} > ${limit} readable` });
    }
    const html = await get(base, '/pks/lookup?op=stats', headers);
    for (const d of unreadable) {
      if (new RegExp(`\\b${d}\\b[^<]*</t[dh]>\\s*<td[^>]*>\\s*\\d`).test(html.text)) figureLeaks.push({ iface: 'hkp.stats(html)', caller, what: `a count for ${d}` });
    }
    const status = await get(base, '/ics/v1/status', headers);
    if (status.status === 200) {
      figureChecks++;
      const body = JSON.parse(status.text) as { store?: { records?: number; domains?: Record<string, number> } };
      for (const d of unreadable) if (body.store?.domains?.[d] !== undefined) figureLeaks.push({ iface: 'json.status', caller, what: `store.domains.${d} = ${body.store.domains[d]}` });
      if ((body.store?.records ?? 0) > limit) figureLeaks.push({ iface: 'json.status', caller, what: `store.records = ${body.store?.records} > ${limit} readable` });
    }
    const metrics = await get(base, '/metrics', headers);
    if (metrics.status === 200) {
      figureChecks++;
      let total = 0;
      for (const line of metrics.text.split('\n')) {
        const match = /^ics_store_records(\{[^}]*\})?\s+(\d+(?:\.\d+)?)$/.exec(line);
        if (!match) continue;
        const value = Number(match[2]);
        const domain = /domain="([^"]+)"/.exec(match[1] ?? '')?.[1];
        if (domain === undefined) total += value;
        else if (unreadable.includes(domain as Domain) && value > 0) figureLeaks.push({ iface: 'metrics', caller, what: `${line}` });
      }
      if (total > limit) figureLeaks.push({ iface: 'metrics', caller, what: `ics_store_records sums to ${total} > ${limit} readable` });
    }
  }

  // ---- LDAP -----------------------------------------------------------------------------
  for (const caller of HTTP_CALLERS) {
    const client = await WireClient.connect(m.ldapPort.maintenance);
    try {
      const dse = await client.search({ base: '', scope: 'base', attributes: ['namingContexts'] });
      const context = dse.entries[0]?.attributes?.get('namingContexts')?.[0] ?? [...(dse.entries[0]?.attributes?.values() ?? [])].flat()[0];
      if (!context) throw new Error('LDAP: no naming context');
      if (caller !== 'anonymous') {
        const bound = await client.bind(`cn=${caller},ou=users,${context}`, m.passwords[caller]);
        if (bound.code !== 0) throw new Error(`LDAP bind as ${caller}: ${bound.code} ${bound.message}`);
      }
      const records = `ou=records,${context}`;
      const keys = `ou=PGP Keys,${context}`;
      const texts = async (spec: Parameters<WireClient['search']>[0]) => (await client.search(spec)).entries.map(entryText).join('\n');
      const byId: string[] = [];
      for (const p of planted) byId.push(await texts({ base: records, filter: { eq: ['icsId', p.id] } }));
      const all = byId.join('\n');
      for (const d of DOMAINS) cell('ldap.icsId', caller, d, byDomain(d), (p) => mentions(all, p));
      const word = await texts({ base: records, filter: { eq: ['icsUserID', 'leakprobe'] } });
      const sub = await texts({ base: records, filter: { sub: ['icsUserID', { any: ['leakprobe'] }] } });
      for (const d of DOMAINS) cell('ldap.word', caller, d, byDomain(d), (p) => mentions(word, p) || mentions(sub, p));
      for (const d of DOMAINS) {
        const text = await texts({ base: records, filter: { eq: ['icsDomain', d] } });
        for (const e of DOMAINS) if (e !== d) for (const p of byDomain(e)) if (mentions(text, p)) throw new Error(`icsDomain=${d} served a ${e} record`);
        cell('ldap.icsDomain', caller, d, byDomain(d), (p) => mentions(text, p));
      }
      const pgp = await texts({ base: keys, filter: { sub: ['pgpUserID', { any: ['leakprobe'] }] } });
      for (const d of DOMAINS) cell('ldap.pgpKeys', caller, d, byDomain(d).filter((p) => p.kind === 'key'), (p) => mentions(pgp, p));
      // Paged, one entry a page, following the cookies to the end.
      let pagedText = '';
      let cookie: Buffer = Buffer.alloc(0);
      let pages = 0;
      // Pages that came back empty yet with a cookie for more: each tells of an entry skipped.
      let emptyWithMore = 0;
      for (;;) {
        const page = await client.search({ base: records, filter: { present: 'objectClass' } }, [pagedControl(1, cookie)]);
        pagedText += `${page.entries.map(entryText).join('\n')}\n`;
        pages++;
        const more = page.done.code === 0 && page.done.cookie !== undefined && page.done.cookie.length > 0;
        if (more && page.entries.length === 0) emptyWithMore++;
        if (!more || pages > planted.length + before + 10) break;
        cookie = page.done.cookie as Buffer;
      }
      for (const d of DOMAINS) cell('ldap.paged', caller, d, byDomain(d), (p) => mentions(pagedText, p));
      figureChecks++;
      if (emptyWithMore > 0) figureLeaks.push({ iface: 'ldap.paged', caller, what: `${emptyWithMore} empty pages with a cookie for more (of ${pages})` });
    } finally {
      client.close();
    }
  }

  // ---- sync -----------------------------------------------------------------------------
  const policy = await openPolicy(join(m.mesh.nodes.maintenance.dir, 'policy.yaml'));
  const address = `${m.mesh.nodes.maintenance.p2p}/p2p/${m.mesh.nodes.maintenance.peerId}`;
  const keyTemp = new TempDirs();
  try {
    const peers: Array<[Caller, PeerKey]> = [
      ['peer:unknown', await loadOrCreatePeerKey(join(await keyTemp.make('peer'), 'libp2p.key'))],
      ['peer:manufacturer', await loadOrCreatePeerKey(join(m.mesh.nodes.manufacturer.dir, 'keys/libp2p.key'))],
      ['peer:infield', await loadOrCreatePeerKey(join(m.mesh.nodes.infield.dir, 'keys/libp2p.key'))],
    ];
    for (const [caller, key] of peers) {
      const got = await syncProbe(key, address, policy, planted);
      for (const d of DOMAINS) cell('sync', caller, d, byDomain(d), (p) => got.has(p.id));
    }
  } finally {
    await keyTemp.cleanup();
  }

  const recordsLeaked = cells.filter((c) => !c.allowed).reduce((n, c) => n + c.served, 0);
  const underServed = cells.filter((c) => c.allowed && c.served < c.planted && !(c.iface === 'sync' && c.domain === 'firmware'));
  return { cells, figureLeaks, figureChecks, recordsLeaked, underServed };
}

/**
 * A raw libp2p peer with `key`: hello naming every domain, then for each domain a
 * reconciliation asking for the whole id list and a fetch of every planted id under it.
 * Returns the ids of records it received.
 */
async function syncProbe(key: PeerKey, address: string, policy: Awaited<ReturnType<typeof openPolicy>>, planted: readonly Planted[]): Promise<Set<string>> {
  const got = new Set<string>();
  const peer = await rawPeer(key);
  try {
    const channel = await peer.dial(address);
    const receive = () => Promise.race([channel.receive(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 10_000).unref())]);
    await channel.send({
      type: MessageType.hello,
      version: 1,
      limits: { maxMessageBytes: 1 << 20, batchSize: 256 },
      domains: DOMAINS.map((name) => ({ name, digest: Buffer.from(policy.domainDigest(name), 'hex'), flags: 3 })),
    } as Message);
    const hello = await receive();
    if (hello.type !== MessageType.helloOk) return got;
    for (const domain of DOMAINS) {
      await channel.send({ type: MessageType.reconcile, domain, ranges: [{ upper: undefined, mode: Mode.idList, prefixes: [] }] } as Message);
      const reply = await receive();
      // Ids named in the reply tell of records as much as the records themselves.
      if (reply.type === MessageType.reconcileReply) {
        for (const range of reply.ranges) if (range.mode === Mode.idListReply) for (const item of range.extras) got.add(item.id);
      }
      await channel.send({ type: MessageType.fetch, domain, ids: planted.map((p) => p.id) } as Message);
      const answer = await receive();
      if (answer.type === MessageType.records) answer.entries.forEach((e, i) => e.status === 0 && got.add((planted[i] as Planted).id));
    }
  } catch {
    // refused, reset or closed: nothing (more) served
  } finally {
    await peer.stop();
  }
  return got;
}

/** The matrix as text: one row per interface and caller, a column per domain (served/planted, * where not allowed). */
export function leakTable(report: LeakReport): string[] {
  const rows = new Map<string, Map<Domain, LeakCell>>();
  for (const c of report.cells) {
    const key = `${c.iface.padEnd(16)} ${c.caller.padEnd(18)}`;
    (rows.get(key) ?? rows.set(key, new Map()).get(key))?.set(c.domain, c);
  }
  const lines = [`${'interface'.padEnd(16)} ${'caller'.padEnd(18)} ${DOMAINS.map((d) => d.padStart(10)).join(' ')}   (served/planted; ! = caller not allowed)`];
  for (const [key, cols] of rows) {
    lines.push(`${key} ${DOMAINS.map((d) => {
      const c = cols.get(d);
      return (c ? `${c.allowed ? '' : '!'}${c.served}/${c.planted}` : '-').padStart(10);
    }).join(' ')}`);
  }
  return lines;
}
