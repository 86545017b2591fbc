// The web console (`/console`), a plugin of the HTTP host: server-rendered pages for
// operators — overview, search, a record with its verdict, signatures and history, and status
// changes behind a confirmation. Reading works without JavaScript (there is none); every value
// is escaped by the template engine (eta, auto-escaping); forms carry the session's CSRF token;
// the Content-Security-Policy allows no script at all. What a user sees and changes is what
// the admin API lets them (AdminOperations: role and tenant, inside the policy's read rules):
// a record of another tenant is a 404 page, as if it did not exist.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { LRUCache } from 'lru-cache';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminRole } from '../auth/index.ts';
import { AdminCertificates, type AdminComponents, AdminOperations, type CertificateFilter, userName } from '../admin/index.ts';
import { eventJson, recordJson, verdictJson } from '../http/describe.ts';
import { ANSWER_CACHE_ENTRIES, type Caller, type HttpContext, type HttpPlugin, storeFigures } from '../http/index.ts';
import { IcsError, isIcsError } from '../errors.ts';
import { type PolicyEngine, type PolicyFileError, PolicyVerdictCache } from '../policy/index.ts';
import { type IdentityRecord, ROLE_NOTATION, STATUS_NOTATION } from '../record/index.ts';
import { resolveReference } from '../store/index.ts';
import type { ChangeEvent, StoredRecord } from '../store/types.ts';
import { Activity, bars, type Minute } from './activity.ts';
import { LoginThrottle, SESSION_COOKIE, type Session, Sessions } from './sessions.ts';

const VIEWS = fileURLToPath(new URL('./views/', import.meta.url));
const CSS = readFileSync(new URL('./assets/console.css', import.meta.url));

/** No script of any origin, styles from this node only, no framing, forms back here only. */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** Statuses an operator sets from a record page. */
const STATUSES = ['in-use', 'inactive', 'stolen', 'decommissioned'] as const;
/** Records a search page lists. */
const PAGE = 50;
const BODY_LIMIT = 16 * 1024;
/** The overview's charts, in CSS pixels. */
const CHART_WIDTH = 360;
const CHART_HEIGHT = 80;
/** Record histories the record page keeps (a few KB each). */
const HISTORY_CACHE_ENTRIES = 2_000;
/** Changes the live feed lists, and how often it reloads. */
const FEED_LENGTH = 50;
const FEED_REFRESH_SECONDS = 10;

export interface ConsoleComponents extends AdminComponents {
  readonly node: { readonly name: string; readonly role: string };
  /** The node's verdict cache, shared with the JSON API and LDAP (one evaluation per record version and policy). */
  readonly verdicts?: PolicyVerdictCache;
}

export function consolePlugin(components: ConsoleComponents): HttpPlugin {
  return {
    name: 'console',
    landing: '<p>Web console: <a href="/console">/console</a></p>\n',
    register: (scope, host) => registerConsole(scope, host, components),
  };
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** What a page calls a record: its user IDs (keys), or the code's name and version. */
function namesOf(record: IdentityRecord): string[] {
  return record.type === 'key' ? record.userIds.map((u) => u.userId) : [`${record.statement.subject.name} ${record.statement.subject.version}`];
}

/** What a confirmation page (views/confirm.eta) says and posts. */
interface Confirmation {
  readonly title: string;
  readonly heading: string;
  readonly explanation: string;
  readonly action: string;
  readonly fields: Record<string, string>;
  readonly button: string;
  readonly cancel: string;
}

/** A status an operator may set from the console; BAD_REQUEST for anything else. */
function settableStatus(value: unknown): string {
  if (typeof value !== 'string' || !(STATUSES as readonly string[]).includes(value)) throw new IcsError('BAD_REQUEST', `the status is one of ${STATUSES.join(', ')}`);
  return value;
}

const formOf = (request: FastifyRequest) => new URLSearchParams(typeof request.body === 'string' ? request.body : '');

async function registerConsole(app: FastifyInstance, ctx: HttpContext, components: ConsoleComponents): Promise<void> {
  const { store, policy } = ctx.components;
  const ops = new AdminOperations(ctx, components);
  const certificates = new AdminCertificates(store, ops, components.certificateAuthority);
  const sessions = new Sessions();
  const throttle = new LoginThrottle();
  const verdicts = components.verdicts ?? new PolicyVerdictCache(ANSWER_CACHE_ENTRIES);
  const eta = new Eta({ views: VIEWS, autoEscape: true, cache: true });
  const secure = ctx.init.tls !== undefined;
  const activity = new Activity(async () => ({ requests: ctx.metrics.http.total(), changes: (await store.stats()).lastSeq }));
  await activity.start();
  app.addHook('onClose', async () => activity.stop());
  const chart = async (title: string, pick: (m: Minute) => number) => ({ title, width: CHART_WIDTH, height: CHART_HEIGHT, ...bars(await activity.minutes(), pick, CHART_WIDTH, CHART_HEIGHT) });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cache-control', 'no-store');
    reply.header('x-frame-options', 'DENY');
  });

  const sessionOf = (request: FastifyRequest): Session | undefined => sessions.get(cookieOf(request, SESSION_COOKIE));

  function render(reply: FastifyReply, view: string, data: Record<string, unknown>, session?: Session, status = 200): FastifyReply {
    const user = session ? { name: userName(session.caller), role: session.caller.role } : undefined;
    const html = eta.render(view, { node: components.node, user, csrf: session?.csrf, ...data });
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  }

  function problem(reply: FastifyReply, error: unknown, session: Session | undefined): FastifyReply {
    if (isIcsError(error, 'NOT_FOUND')) return render(reply, 'error', { title: 'Not found', heading: 'Not found', message: 'No such record here.' }, session, 404);
    if (isIcsError(error, 'POLICY_REJECTED')) return render(reply, 'error', { title: 'Not allowed', heading: 'Not allowed', message: error.message }, session, 403);
    if (isIcsError(error, 'BAD_REQUEST')) return render(reply, 'error', { title: 'Bad request', heading: 'Bad request', message: error.message }, session, 400);
    ctx.logger.error({ err: error }, 'console: request failed');
    return render(reply, 'error', { title: 'Error', heading: 'Something went wrong', message: 'The node could not do this; see its log.' }, session, 500);
  }

  /** The signed-in session, or a redirect to the login page (answered here). */
  function signedIn(request: FastifyRequest, reply: FastifyReply): Session | undefined {
    const session = sessionOf(request);
    if (!session) {
      void reply.redirect('/console/login', 303);
      return undefined;
    }
    return session;
  }

  /** A form's CSRF token must be the session's: a form posted from another site is refused. */
  function checkCsrf(session: Session, form: URLSearchParams): void {
    if (!Sessions.csrfMatches(session, form.get('csrf'))) throw new IcsError('POLICY_REJECTED', 'the form is stale or did not come from this console (CSRF token): reload the page');
  }

  // A record's history changes only with the record (each accepted version appends one event),
  // so it is kept per record version: a record page reads it from the store once per change.
  const histories = new LRUCache<string, ChangeEvent[]>({ max: HISTORY_CACHE_ENTRIES });
  const historyOf = async (stored: StoredRecord): Promise<ChangeEvent[]> => {
    const key = `${stored.id} ${stored.digest}`;
    const cached = histories.get(key);
    if (cached) return cached;
    const events = await store.history(stored.id);
    // Kept only when the history ends at this version: a read that raced a newer write is not cached.
    if (events[events.length - 1]?.digest === stored.digest) histories.set(key, events);
    return events;
  };

  const mayWrite = (session: Session) => session.caller.role === 'operator' || session.caller.role === 'admin';

  /** A page for a signed-in user (others go to the login page); what goes wrong is an error page. */
  const page =
    (handler: (request: FastifyRequest, reply: FastifyReply, session: Session) => Promise<FastifyReply>) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const session = signedIn(request, reply);
      if (!session) return reply;
      try {
        return await handler(request, reply, session);
      } catch (error) {
        return problem(reply, error, session);
      }
    };

  /** An operator's action, step one: the page that asks for confirmation (GET; changes nothing). */
  const confirmation = (ask: (request: FastifyRequest, session: Session) => Promise<Confirmation>) =>
    page(async (request, reply, session) => {
      ops.authorize(session.caller, 'operator');
      return render(reply, 'confirm', { ...(await ask(request, session)) }, session);
    });

  /** Step two: the confirmed form (POST), its CSRF token and the user's role checked first; answered with a redirect. */
  const confirmed = (role: AdminRole, act: (form: URLSearchParams, request: FastifyRequest, session: Session) => Promise<string>) =>
    page(async (request, reply, session) => {
      const form = formOf(request);
      checkCsrf(session, form);
      ops.authorize(session.caller, role);
      return reply.redirect(await act(form, request, session), 303);
    });

  const cookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;

  app.get('/console/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CSS));

  app.get('/console/login', async (request, reply) => {
    if (sessionOf(request)) return reply.redirect('/console', 303);
    return render(reply, 'login', { title: 'Log in' });
  });

  app.post('/console/login', async (request, reply) => {
    // A password sent in clear is refused like HTTP basic auth is (the allowInsecureAuth escape is for loopback tests).
    if (!secure && ctx.init.allowInsecureAuth !== true) {
      return render(reply, 'login', { title: 'Log in', error: 'Passwords are not accepted over plain HTTP: open the console over HTTPS (configure tls).' }, undefined, 400);
    }
    const form = formOf(request);
    const name = (form.get('user') ?? '').slice(0, 63);
    const password = form.get('password') ?? '';
    const delay = throttle.delayMs(name, request.ip);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const user = ctx.components.authenticator && name !== '' && password.length <= 1024 ? await ctx.components.authenticator.authenticate(name, password) : undefined;
    if (!user) {
      throttle.failed(name, request.ip);
      ctx.logger.warn({ user: name, client: request.ip }, 'console: login failed');
      return render(reply, 'login', { title: 'Log in', error: 'Wrong user name or password.', name }, undefined, 401);
    }
    throttle.succeeded(name, request.ip);
    const caller: Caller = { principal: user.principal, write: user.write, role: user.role, ...(user.domains && { domains: user.domains }) };
    const session = sessions.create(caller);
    ctx.logger.info({ user: name }, 'console: logged in');
    return reply.header('set-cookie', cookie(session.id, 12 * 3600)).redirect('/console', 303);
  });

  app.post('/console/logout', async (request, reply) => {
    const session = sessionOf(request);
    if (session) {
      try {
        checkCsrf(session, formOf(request));
      } catch (error) {
        return problem(reply, error, session);
      }
      sessions.end(session.id);
    }
    return reply.header('set-cookie', cookie('', 0)).redirect('/console/login', 303);
  });

  app.get('/console', async (request, reply) => {
    const session = signedIn(request, reply);
    if (!session) return reply;
    const engine = policy();
    const mine = ops.administers(session.caller, engine);
    const figures = await storeFigures(store, engine, session.caller.principal);
    const names = engine.domainNames().filter(mine);
    const counts = names.map((name) => figures.domains[name]);
    const recent = await recentChanges(engine, session.caller);
    const sync = components.sync?.();
    return render(
      reply,
      'overview',
      {
        title: 'Overview',
        domains: names.map((name, i) => ({ name, count: counts[i] ?? 0 })),
        issuers: engine.policy.trust.issuers.map((i) => ({ name: i.name, fingerprint: i.fingerprint, roles: i.roles })),
        peers: sync ? sync.peers().map((p) => ({ ...p, lastSync: p.lastSync?.toISOString() })) : null,
        changes: recent,
        charts: { requests: await chart('HTTP requests on this listener', (m) => m.requests), changes: await chart('Record changes (ingest, sync, operators)', (m) => m.changes) },
      },
      session,
    );
  });

  // A live feed without script: the page asks the browser to reload it.
  app.get('/console/changes', async (request, reply) => {
    const session = signedIn(request, reply);
    if (!session) return reply;
    const changes = await recentChanges(policy(), session.caller, FEED_LENGTH);
    return render(reply, 'changes', { title: 'Changes', changes, refresh: FEED_REFRESH_SECONDS }, session);
  });

  /** The newest changes to records the caller administers (a page of the event log, newest first). */
  async function recentChanges(engine: PolicyEngine, caller: Caller, count = 20) {
    const mine = ops.administers(caller, engine);
    const stats = await store.stats();
    const events = await store.changesSince(Math.max(0, stats.lastSeq - 10 * count), 10 * count);
    return events
      .filter((e) => e.domains.some(mine))
      .reverse()
      .slice(0, count)
      .map((e) => ({ ...eventJson(e, true), id: e.id }));
  }

  app.get('/console/search', async (request, reply) => {
    const session = signedIn(request, reply);
    if (!session) return reply;
    const engine = policy();
    const mine = ops.administers(session.caller, engine);
    const query = request.query as Record<string, unknown>;
    const q = typeof query.q === 'string' ? query.q.trim().slice(0, 1024) : '';
    const domain = typeof query.domain === 'string' && engine.domainNames().includes(query.domain) && mine(query.domain) ? query.domain : '';
    const after = typeof query.after === 'string' && /^[0-9a-z:]{1,80}$/.test(query.after) ? query.after : undefined;
    const view = { title: 'Search', q, domain, domainNames: engine.domainNames().filter(mine), searched: q !== '' || domain !== '', results: [] as unknown[], more: false, next: undefined as string | undefined };
    if (!view.searched) return render(reply, 'search', view, session);
    try {
      const visible = (stored: StoredRecord) => stored.domains.some(mine) && (domain === '' || stored.domains.includes(domain));
      let found: StoredRecord[] = [];
      if (q === '') {
        const ids = await store.listDomain(domain, { limit: PAGE + 1, ...(after !== undefined && { after }) });
        found = (await store.getMany(ids)).filter((s): s is StoredRecord => s !== undefined && visible(s));
      } else {
        const exact = await resolveReference(store, q, { visible }).catch((error: unknown) => {
          // Not a reference (a word), none, or several: the word search below answers.
          if (isIcsError(error, 'NOT_FOUND') || isIcsError(error, 'BAD_REQUEST')) return undefined;
          throw error;
        });
        if (exact) found = [exact];
        else {
          // The longest word is the most selective; the rest of the page is filtered by domain and tenant.
          const word = q.toLowerCase().split(/[^a-z0-9.-]+/).filter((w) => w.length >= 2).sort((a, b) => b.length - a.length)[0];
          const ids = word === undefined ? [] : await store.findByToken(word, { limit: 4 * PAGE, prefix: true });
          found = (await store.getMany(ids)).filter((s): s is StoredRecord => s !== undefined && visible(s));
        }
      }
      view.more = found.length > PAGE;
      const page = found.slice(0, PAGE);
      if (q === '' && view.more) view.next = `/console/search?domain=${encodeURIComponent(domain)}&after=${encodeURIComponent(page[page.length - 1]?.id ?? '')}`;
      view.results = await Promise.all(
        page.map(async (stored) => {
          const record = await ctx.cache.revive(stored);
          const cached = verdicts.get(stored, engine, new Date()) ?? verdicts.evaluate(stored, record, engine, new Date());
          return { id: stored.id, kind: stored.kind, domains: stored.domains.filter(mine), names: namesOf(record), status: cached.verdict.status };
        }),
      );
      return render(reply, 'search', view, session);
    } catch (error) {
      return problem(reply, error, session);
    }
  });

  app.get('/console/records/:ref', page(async (request, reply, session) => {
    const engine = policy();
    const stored = await ops.resolve((request.params as { ref: string }).ref, session.caller, engine);
    const record = await ctx.cache.revive(stored);
    const described = recordJson(stored, record, engine, '');
    const now = new Date();
    const cached = verdicts.get(stored, engine, now) ?? verdicts.evaluate(stored, record, engine, now);
    const verdict = verdictJson(cached.verdict, engine, stored.digest, cached.checkedAt, cached.validUntil);
    const signatures = described.signatures.map((s) => ({
      who: s.self ? 'self' : (s.issuerName ?? s.issuer),
      typeName: s.typeName,
      created: s.created,
      role: s.notations.find((n) => n.name === ROLE_NOTATION)?.value ?? '',
      status: s.notations.find((n) => n.name === STATUS_NOTATION)?.value ?? '',
      notes: s.notations.filter((n) => n.name !== ROLE_NOTATION && n.name !== STATUS_NOTATION).map((n) => `${n.name}=${n.value}`).join(', '),
    }));
    const [events, issued] = await Promise.all([historyOf(stored), certificates.ofRecord(stored.id, PAGE, now)]);
    const history = events.map((e) => eventJson(e, true));
    const canWrite = mayWrite(session);
    return render(reply, 'record', { title: described.id, record: { ...described, domains: stored.domains.filter(ops.administers(session.caller, engine)) }, verdict, signatures, history, canWrite, statuses: STATUSES, certificates: issued.certificates }, session);
  }));

  app.get(
    '/console/records/:ref/status',
    confirmation(async (request, session) => {
      const value = settableStatus((request.query as Record<string, unknown>).value);
      const stored = await ops.resolve((request.params as { ref: string }).ref, session.caller, policy());
      const name = namesOf(await ctx.cache.revive(stored))[0] ?? '';
      return {
        title: `Mark ${value}`,
        heading: `Mark ${value}?`,
        explanation: `The node will sign a status statement "${value}" for ${stored.id} (${name}) with its issuer key, and gateways that ask will see it at once.`,
        action: `/console/records/${stored.id}/status`,
        fields: { value },
        button: `Yes, mark ${value}`,
        cancel: `/console/records/${stored.id}`,
      };
    }),
  );

  app.post(
    '/console/records/:ref/status',
    confirmed('operator', async (form, request, session) => {
      const outcome = await ops.state({ caller: session.caller, ip: request.ip }, (request.params as { ref: string }).ref, { status: settableStatus(form.get('value')) });
      return `/console/records/${outcome.id}`;
    }),
  );

  // Certificates the node's CA issued (admin/certificates.ts): lists, one with its PEM, and
  // for operators revocation and the approval of waiting enrolments, each behind a confirmation.
  const TABS: ReadonlyArray<[CertificateFilter | 'pending', string]> = [
    ['valid', 'Valid'],
    ['expiring', 'Expiring within 30 days'],
    ['revoked', 'Revoked'],
    ['all', 'All issued'],
    ['pending', 'Pending approval'],
  ];

  app.get('/console/certificates', page(async (request, reply, session) => {
    const engine = policy();
    const asked = (request.query as Record<string, unknown>).filter;
    const filter = TABS.find(([key]) => key === asked)?.[0] ?? 'valid';
    const listed = filter === 'pending' ? { certificates: [], truncated: false } : await certificates.list(session.caller, engine, { filter, limit: PAGE * 4 });
    const pending = filter === 'pending' ? await certificates.pending(session.caller, engine) : [];
    return render(reply, 'certificates', { title: 'Certificates', hasAuthority: certificates.hasAuthority, tabs: TABS, filter, ...listed, pending, canWrite: mayWrite(session) }, session);
  }));

  app.get('/console/certificates/:serial', page(async (request, reply, session) => {
    const certificate = await certificates.get((request.params as { serial: string }).serial, session.caller, policy());
    return render(reply, 'certificate', { title: `Certificate ${certificate.serial}`, certificate, canWrite: mayWrite(session) && certificates.hasAuthority, reasons: certificates.reasons }, session);
  }));

  const revocationReason = (value: unknown): string => {
    if (typeof value !== 'string' || !certificates.reasons.includes(value)) throw new IcsError('BAD_REQUEST', `the reason is one of ${certificates.reasons.join(', ')}`);
    return value;
  };

  app.get(
    '/console/certificates/:serial/revoke',
    confirmation(async (request, session) => {
      const reason = revocationReason((request.query as Record<string, unknown>).reason);
      const certificate = await certificates.get((request.params as { serial: string }).serial, session.caller, policy());
      return {
        title: `Revoke ${certificate.serial}`,
        heading: `Revoke certificate ${certificate.serial}?`,
        explanation: `Revoked for good (${reason}): the CRL and OCSP say so within a second, a broker linked to this node ends the device's session, and the device must enrol again for a new certificate.`,
        action: `/console/certificates/${certificate.serial}/revocation`,
        fields: { reason },
        button: 'Yes, revoke',
        cancel: `/console/certificates/${certificate.serial}`,
      };
    }),
  );

  app.post(
    '/console/certificates/:serial/revocation',
    confirmed('operator', async (form, request, session) => {
      const done = await certificates.revoke((request.params as { serial: string }).serial, revocationReason(form.get('reason')), session.caller, policy(), userName(session.caller));
      return `/console/certificates/${done.outcome === 'not-found' ? done.serial : done.entry.serial}`;
    }),
  );

  app.get(
    '/console/enrolments/:ref/approve',
    confirmation(async (request, session) => {
      const stored = await ops.resolve((request.params as { ref: string }).ref, session.caller, policy());
      const name = namesOf(await ctx.cache.revive(stored))[0] ?? '';
      return {
        title: `Approve ${name}`,
        heading: `Approve the enrolment of ${name}?`,
        explanation: `The device's next EST request gets its operational certificate (${stored.id}).`,
        action: `/console/enrolments/${stored.id}/approval`,
        fields: {},
        button: 'Yes, approve',
        cancel: '/console/certificates?filter=pending',
      };
    }),
  );

  app.post(
    '/console/enrolments/:ref/approval',
    confirmed('operator', async (_form, request, session) => {
      await certificates.approve((request.params as { ref: string }).ref, session.caller, policy(), userName(session.caller));
      return '/console/certificates?filter=pending';
    }),
  );

  // The policy in force, rendered, with its file; admins reload it here and see every error
  // of a file that does not load (the policy in force stays).
  async function renderPolicy(reply: FastifyReply, session: Session, extra: { reloaded?: boolean; errors?: readonly PolicyFileError[] }, status = 200): Promise<FastifyReply> {
    const engine = policy();
    const p = engine.policy;
    const compact = (value: unknown) => JSON.stringify(value);
    const text = await readFile(p.source, 'utf8').catch(() => '(the file cannot be read now)');
    return render(
      reply,
      'policy',
      {
        title: 'Policy',
        source: p.source,
        generation: engine.generation,
        domains: p.domains.map((d) => ({ name: d.name, description: d.description, select: compact(d.select), read: compact(d.read), write: compact(d.write), verdict: compact(d.verdict) })),
        issuers: p.trust.issuers,
        peers: p.sync.peers,
        enrol: p.enrol ? JSON.stringify(p.enrol, null, 2) : undefined,
        text,
        canReload: session.caller.role === 'admin',
        ...extra,
      },
      session,
      status,
    );
  }

  app.get('/console/policy', page(async (request, reply, session) => {
    return await renderPolicy(reply, session, { reloaded: (request.query as Record<string, unknown>).reloaded === '1' });
  }));

  app.post('/console/policy/reload', async (request, reply) => {
    const session = signedIn(request, reply);
    if (!session) return reply;
    try {
      checkCsrf(session, formOf(request));
      ops.authorize(session.caller, 'admin');
      try {
        await components.reloadPolicy();
      } catch (error) {
        if (!isIcsError(error, 'CONFIG_INVALID')) throw error;
        const listed = (error.details as { errors?: PolicyFileError[] } | undefined)?.errors;
        const errors = listed && listed.length > 0 ? listed : [{ file: policy().policy.source, path: '', message: error.message }];
        ctx.logger.warn({ user: userName(session.caller), errors: errors.length }, 'console: policy reload refused');
        return await renderPolicy(reply, session, { errors }, 422);
      }
      ctx.logger.info({ user: userName(session.caller) }, 'console: policy reloaded');
      return reply.redirect('/console/policy?reloaded=1', 303);
    } catch (error) {
      return problem(reply, error, session);
    }
  });

  // Withdrawing the node's certifications (a certification revocation signed by its key): the
  // record stops counting this node's role, as when an integrator takes a device out of service.
  app.get(
    '/console/records/:ref/withdraw',
    confirmation(async (request, session) => {
      const stored = await ops.resolve((request.params as { ref: string }).ref, session.caller, policy());
      const name = namesOf(await ctx.cache.revive(stored))[0] ?? '';
      return {
        title: `Withdraw ${name}`,
        heading: `Withdraw this node's certifications of ${name}?`,
        explanation: `The node will sign a certification revocation for ${stored.id}: its role, status and other statements on this record stop counting, and verdicts that need them turn.`,
        action: `/console/records/${stored.id}/withdrawal`,
        fields: {},
        button: 'Yes, withdraw',
        cancel: `/console/records/${stored.id}`,
      };
    }),
  );

  app.post(
    '/console/records/:ref/withdrawal',
    confirmed('operator', async (_form, request, session) => {
      const outcome = await ops.withdraw({ caller: session.caller, ip: request.ip }, (request.params as { ref: string }).ref, { reason: `withdrawn in the console by ${userName(session.caller)}` });
      return `/console/records/${outcome.id}`;
    }),
  );
}
