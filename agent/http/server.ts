import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CowbellError } from '../errors.js';
import { listenProblem } from '../preflight.js';
import type { AlertRow } from '../store/store.js';
import { alertToJson } from '../wire.js';
import { asset } from './assets.js';
import { cowPage, notFoundPage } from './cow-page.js';
import type { CowDetail, CowSeries, CowSummary, GatewayInfo } from './farm.js';
import { times } from './html.js';
import { overviewPage } from './page.js';
import type { Logger } from '../log.js';
import { sameSecret, type Secret } from '../secret.js';
import type { MessageRow } from '../store/notify-store.js';
import type { InboundEvent } from '../notify/chat.js';
import type { HerdImportResult } from '../herd/register.js';
import { isPublic, localPath, loginPage, PageAuth } from './auth.js';
import { parseWhatsAppWebhook, verifyHubSignature } from '../notify/whatsapp.js';

/** Webhook bodies are small (one update, a few statuses); anything bigger is refused before it is parsed. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;
/** A herd of 20,000 cows with notes fits. */
const MAX_HERD_BYTES = 4 * 1024 * 1024;

/** What the chat services may call back, and what a person at the status page may do. */
export interface InboundRoutes {
  whatsapp?: { appSecret?: Secret | undefined; verifyToken?: Secret | undefined; handle(events: InboundEvent[]): void } | undefined;
  telegram?: { verify(secretHeader: string | undefined): boolean; handle(update: unknown): Promise<void> } | undefined;
  /** Acknowledge or snooze from the status page; returns how many alerts changed. */
  act(alertId: string, action: 'acknowledge' | 'snooze'): number;
  /** A herd file (CSV) for the register; throws a CowbellError saying what is wrong with it. */
  importHerd?(csv: string): HerdImportResult;
  clock(): number;
}

export interface StatusSource {
  /** Everything the status page and /api/status show; cheap enough to call per request. */
  status(): AgentStatus;
  /** Cheap: for supervisors polling /healthz. */
  health(): { ok: boolean; broker: boolean; subscribed: boolean; lastMessageAt: number | null };
  alertsSince(since: number, limit: number): AlertRow[];
  openAlerts(): AlertRow[];
  latestAlerts(limit: number): AlertRow[];
  timezone: string;
  notify(): NotifyStatus;
  recentMessages(limit: number): MessageRow[];
  /** Prometheus text exposition for /metrics. */
  metrics(): string;
  /** The herd register as CSV (`cowbell herd export`). */
  herdCsv(): string;
  /** Every cow the agent knows, with her state at a glance (the farm page's overview, /api/cows). */
  cows(): CowSummary[];
  /** One cow's page: her summary, alerts and heats; null for a cow the agent does not know. */
  cow(cowId: string): CowDetail | null;
  /** Her hourly readings and baseline band over the last `days` days; null for a cow the agent does not know. */
  series(cowId: string, days: number): CowSeries | null;
  /** The farm page's gateway section, beyond AgentStatus. */
  gateway(): GatewayInfo;
}

export interface NotifyStatus {
  recipients: { name: string; channel: string; language: string; pending: number; optedOut: boolean; windowOpen: boolean; lastSentAt: string | null; retrying: boolean; lastError: string | null }[];
  paused: { channel: string; until: string; reason: string }[];
  stats: Record<string, number>;
}

export interface AgentStatus {
  ok: boolean;
  farm: { id: string; name?: string | undefined };
  startedAt: string;
  broker: { url: string; connected: boolean; subscribed: boolean; lastError: string | null };
  ingest: {
    messages: number; readings: number; duplicates: number; quarantined: number; lateUnjudged: number; futureUnjudged: number; impossible: number;
    unassignedRefused: number; unassignedForgotten: number; seqMissing: number; lastMessageAt: string | null;
  };
  herd: { collars: number; warmingUp: number; watermark: string | null; futureStamped: { collarId: string; ts: string; receivedAt: string }[] };
  store: { readings: number; quarantined: number; openAlerts: number; outboxPending: number; outboxFailed: number };
  outbox: { sent: number; retried: number; failed: number; dropped: number };
  notify: NotifyStatus;
  recentQuarantine: { receivedAt: string; topic: string; reason: string; bytes: number }[];
}

const MAX_ALERTS = 1000;
/** A month and a bit: what the retention keeps by default, and a chart a phone can still draw. */
const MAX_SERIES_DAYS = 60;

/** Small and dependency-free on purpose: four routes do not need a framework. */
export class HttpServer {
  private server: Server | null = null;

  constructor(
    private readonly source: StatusSource,
    private readonly logger: Logger,
    private readonly inbound?: InboundRoutes,
    /** The login for an agent bound beyond loopback (`http.password`); none on loopback without a password. */
    private readonly auth?: PageAuth,
  ) {}

  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        this.logger.error({ err: (err as Error).message, path: req.url?.split('?')[0] }, 'http handler failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      // A config mistake (a host that is not this box's, a port in use) is said in the config's words, not
      // as a stack trace.
      const fail = (err: NodeJS.ErrnoException) => reject(new CowbellError('COWBELL_HTTP_LISTEN', `http: cannot listen on ${host}:${port}: ${listenProblem(err)}`, { cause: err }));
      server.once('error', fail);
      // Stopped before it was listening (a signal during start-up): the caller is told, not left waiting.
      server.once('close', () => reject(new CowbellError('COWBELL_HTTP_LISTEN', `http: closed before listening on ${host}:${port}`)));
      server.listen(port, host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/webhooks/whatsapp') return this.whatsapp(req, res, url);
    if (url.pathname === '/webhooks/telegram') return this.telegram(req, res);
    if (url.pathname === '/login') return this.login(req, res, url);
    if (url.pathname === '/logout' && req.method === 'POST') {
      res.writeHead(303, { location: this.auth ? '/login' : '/', 'set-cookie': PageAuth.clearCookie() });
      return void res.end();
    }
    if (this.auth && !isPublic(url.pathname) && !this.auth.allows(req)) {
      if ((req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html')) {
        res.writeHead(303, { location: `/login?next=${encodeURIComponent(url.pathname + url.search)}` });
        return void res.end();
      }
      res.setHeader('www-authenticate', 'Bearer realm="cowbell"');
      return send(res, 401, { error: 'log in first: send http.password as "Authorization: Bearer <password>", or log in at /login' });
    }
    const act = /^\/api\/alerts\/([^/]+)\/(ack|snooze)$/.exec(url.pathname);
    if (act && req.method === 'POST' && this.inbound) {
      // A page on another site must not make a farm browser acknowledge alerts (CSRF): browsers say where a
      // form comes from; tools like curl send no Origin and are let through.
      if (!sameOrigin(req)) return send(res, 403, { error: 'cross-site request refused' });
      await readBody(req, 4096);
      const n = this.inbound.act(decodeURIComponent(act[1]!), act[2] === 'ack' ? 'acknowledge' : 'snooze');
      // A form on the farm page posts here: send the browser back to the page it came from (a path on this
      // site only, so the route cannot be used to bounce a browser elsewhere).
      if ((req.headers.accept ?? '').includes('text/html')) {
        res.writeHead(303, { location: localPath(url.searchParams.get('back')) });
        return void res.end();
      }
      return send(res, n ? 200 : 409, n ? { ok: true } : { error: 'no open, unacknowledged alert with that id' });
    }
    if (url.pathname === '/api/herd' && req.method === 'POST' && this.inbound?.importHerd) return this.herdImport(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET' });
    const a = asset(url.pathname);
    if (a) {
      // Assets change only with the agent's version: a phone on 4G need not fetch uPlot on every visit.
      res.writeHead(200, { 'content-type': a.type, 'cache-control': 'public, max-age=3600' });
      return void res.end(a.body);
    }
    const cowPath = /^\/cow\/([^/]+)$/.exec(url.pathname);
    if (cowPath) {
      const id = decodeURIComponent(cowPath[1]!);
      const detail = this.source.cow(id);
      if (!detail) return html(res, 404, notFoundPage(`No cow ${id} here.`));
      const farm = this.source.status().farm;
      return html(res, 200, cowPage(detail, times(this.source.timezone, this.now()), { farm: farm.name ?? farm.id, actions: !!this.inbound }));
    }
    const seriesPath = /^\/api\/cows\/([^/]+)\/series$/.exec(url.pathname);
    if (seriesPath) {
      const days = Number(url.searchParams.get('days') ?? 7);
      if (!Number.isInteger(days) || days < 1 || days > MAX_SERIES_DAYS) return send(res, 400, { error: `days must be a whole number from 1 to ${MAX_SERIES_DAYS}` });
      const series = this.source.series(decodeURIComponent(seriesPath[1]!), days);
      return series ? send(res, 200, series) : send(res, 404, { error: 'no such cow' });
    }
    const cowApi = /^\/api\/cows\/([^/]+)$/.exec(url.pathname);
    if (cowApi) {
      const detail = this.source.cow(decodeURIComponent(cowApi[1]!));
      return detail ? send(res, 200, { ...detail, alerts: detail.alerts.map(alertToJson) }) : send(res, 404, { error: 'no such cow' });
    }
    switch (url.pathname) {
      case '/healthz': {
        const h = this.source.health();
        const lastMessageAt = h.lastMessageAt === null ? null : new Date(h.lastMessageAt).toISOString();
        return send(res, h.ok ? 200 : 503, { ...h, lastMessageAt });
      }
      case '/api/status':
        return send(res, 200, this.source.status());
      case '/api/herd.csv':
        res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="herd.csv"', 'cache-control': 'no-store' });
        return void res.end(this.source.herdCsv());
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
        return void res.end(this.source.metrics());
      case '/api/alerts': {
        const sinceParam = url.searchParams.get('since');
        const since = sinceParam === null ? 0 : Date.parse(sinceParam);
        if (Number.isNaN(since)) return send(res, 400, { error: 'since must be an ISO-8601 time, e.g. 2026-11-25T00:00:00Z' });
        const limitParam = Number(url.searchParams.get('limit') ?? MAX_ALERTS);
        const limit = Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, MAX_ALERTS) : MAX_ALERTS;
        return send(res, 200, { alerts: this.source.alertsSince(since, limit).map(alertToJson) });
      }
      case '/api/cows':
        return send(res, 200, { cows: this.source.cows() });
      case '/':
        return html(res, 200, this.page());
      default:
        return send(res, 404, {
          error: 'not found',
          routes: ['/', '/cow/<id>', '/healthz', '/api/status', '/api/alerts?since=<ISO>', '/api/cows', '/api/cows/<id>', '/api/cows/<id>/series?days=7', '/metrics'],
        });
    }
  }

  /** The login form, and the password posted from it (same origin only, five wrong ones a minute per address). */
  private async login(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = this.auth;
    const farm = this.source.status().farm;
    const name = farm.name ?? farm.id;
    if (!auth) {
      res.writeHead(303, { location: '/' });
      return void res.end();
    }
    const html = (status: number, next: string, error?: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginPage(name, next, error));
    };
    if (req.method === 'GET' || req.method === 'HEAD') return html(200, localPath(url.searchParams.get('next')));
    if (req.method !== 'POST') return send(res, 405, { error: 'GET or POST' });
    if (!sameOrigin(req)) return send(res, 403, { error: 'cross-site request refused' });
    const raw = await readBody(req, 4096).catch((err: Error) => err);
    if (raw instanceof Error) return send(res, 413, { error: raw.message });
    const form = new URLSearchParams(raw.toString('utf8'));
    const next = localPath(form.get('next'));
    const remote = req.socket.remoteAddress ?? 'unknown';
    if (auth.throttled(remote)) return html(429, next, 'Too many wrong passwords: wait a minute.');
    if (!auth.isPassword(form.get('password') ?? '')) {
      auth.failed(remote);
      this.logger.warn({ remote }, 'farm page: wrong password');
      return html(401, next, 'Wrong password.');
    }
    res.writeHead(303, { location: next, 'set-cookie': auth.sessionCookie() });
    res.end();
  }

  /** A herd file posted by `cowbell herd import` or the farm page's upload form. */
  private async herdImport(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sameOrigin(req)) return send(res, 403, { error: 'cross-site request refused' });
    const raw = await readBody(req, MAX_HERD_BYTES).catch((err: Error) => err);
    if (raw instanceof Error) return send(res, 413, { error: raw.message });
    try {
      return send(res, 200, this.inbound!.importHerd!(raw.toString('utf8')));
    } catch (err) {
      if (err instanceof CowbellError) return send(res, 400, { error: err.message, code: err.code });
      throw err;
    }
  }

  /** Meta's webhook: the GET subscription handshake, then signed POSTs. Unsigned or forged: 401, nothing changes. */
  private async whatsapp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const wa = this.inbound?.whatsapp;
    if (!wa) return send(res, 404, { error: 'WhatsApp is not configured' });
    if (req.method === 'GET') {
      const expected = wa.verifyToken?.reveal();
      const given = url.searchParams.get('hub.verify_token') ?? '';
      if (url.searchParams.get('hub.mode') === 'subscribe' && expected && sameSecret(given, expected)) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end(url.searchParams.get('hub.challenge') ?? '');
      }
      this.logger.warn('WhatsApp webhook verification refused: wrong hub.verify_token (compare channels.whatsapp.verifyToken with Meta\'s webhook settings)');
      return send(res, 403, { error: 'verification failed' });
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'GET or POST' });
    const raw = await readBody(req, MAX_WEBHOOK_BYTES).catch((err: Error) => err);
    if (raw instanceof Error) return send(res, 413, { error: raw.message });
    const secret = wa.appSecret?.reveal();
    if (!secret || !verifyHubSignature(raw, header(req, 'x-hub-signature-256'), secret)) {
      this.logger.warn({ bytes: raw.length }, 'WhatsApp webhook with a missing or wrong X-Hub-Signature-256: refused');
      return send(res, 401, { error: 'bad signature' });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'not JSON' });
    }
    wa.handle(parseWhatsAppWebhook(body, this.inbound!.clock()));
    send(res, 200, { ok: true });
  }

  /** Telegram's webhook mode: the secret_token given to setWebhook must come back in its header. */
  private async telegram(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tg = this.inbound?.telegram;
    if (!tg) return send(res, 404, { error: 'Telegram webhook mode is not configured' });
    if (req.method !== 'POST') return send(res, 405, { error: 'POST' });
    if (!tg.verify(header(req, 'x-telegram-bot-api-secret-token'))) {
      this.logger.warn('Telegram webhook with a missing or wrong secret token: refused');
      return send(res, 401, { error: 'bad secret token' });
    }
    const raw = await readBody(req, MAX_WEBHOOK_BYTES).catch((err: Error) => err);
    if (raw instanceof Error) return send(res, 413, { error: raw.message });
    let update: unknown;
    try {
      update = JSON.parse(raw.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'not JSON' });
    }
    // One Update object; anything else (null, an array) would fail deep inside the handler as a 500.
    if (typeof update !== 'object' || update === null || Array.isArray(update) || !Number.isInteger((update as { update_id?: unknown }).update_id)) {
      return send(res, 400, { error: 'not a Telegram update' });
    }
    await tg.handle(update);
    send(res, 200, { ok: true });
  }

  private page(): string {
    return overviewPage(
      {
        status: this.source.status(),
        cows: this.source.cows(),
        open: this.source.openAlerts(),
        recent: this.source.latestAlerts(20),
        messages: this.source.recentMessages(15),
        gateway: this.source.gateway(),
        actions: !!this.inbound,
        login: !!this.auth,
      },
      times(this.source.timezone, this.now()),
    );
  }

  private now(): number {
    return this.inbound?.clock() ?? Date.now();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sameOrigin(req: IncomingMessage): boolean {
  if (header(req, 'sec-fetch-site') === 'cross-site') return false;
  const origin = header(req, 'origin');
  if (!origin || origin === 'null') return origin === undefined;
  try {
    return new URL(origin).host === header(req, 'host');
  } catch {
    return false;
  }
}

/** Reads a request body up to `max` bytes; a declared or actual size beyond it is refused without buffering it. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      return reject(new Error(`body larger than ${max} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new Error(`body larger than ${max} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

