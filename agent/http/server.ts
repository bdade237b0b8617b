import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CowbellError } from '../errors.js';
import { listenProblem } from '../preflight.js';
import { timingSafeEqual } from 'node:crypto';
import { alertToJson, type AlertRow } from '../store/store.js';
import { formatAlert } from '../notify/render.js';
import type { Logger } from '../log.js';
import type { Secret } from '../secret.js';
import type { MessageRow } from '../store/notify-store.js';
import type { InboundEvent } from '../notify/chat.js';
import { parseWhatsAppWebhook, verifyHubSignature } from '../notify/whatsapp.js';

/** Webhook bodies are small (one update, a few statuses); anything bigger is refused before it is parsed. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

/** What the chat services may call back, and what a person at the status page may do. */
export interface InboundRoutes {
  whatsapp?: { appSecret?: Secret | undefined; verifyToken?: Secret | undefined; handle(events: InboundEvent[]): void } | undefined;
  telegram?: { verify(secretHeader: string | undefined): boolean; handle(update: unknown): Promise<void> } | undefined;
  /** Acknowledge or snooze from the status page; returns how many alerts changed. */
  act(alertId: string, action: 'acknowledge' | 'snooze'): number;
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
  ingest: { messages: number; readings: number; duplicates: number; quarantined: number; lateUnjudged: number; futureUnjudged: number; impossible: number; lastMessageAt: string | null };
  herd: { collars: number; warmingUp: number; watermark: string | null; futureStamped: { collarId: string; ts: string; receivedAt: string }[] };
  store: { readings: number; quarantined: number; openAlerts: number; outboxPending: number; outboxFailed: number };
  outbox: { sent: number; retried: number; failed: number; dropped: number };
  notify: NotifyStatus;
  recentQuarantine: { receivedAt: string; topic: string; reason: string; bytes: number }[];
}

const MAX_ALERTS = 1000;

/** Small and dependency-free on purpose: four routes do not need a framework. */
export class HttpServer {
  private server: Server | null = null;

  constructor(
    private readonly source: StatusSource,
    private readonly logger: Logger,
    private readonly inbound?: InboundRoutes,
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
    const act = /^\/api\/alerts\/([^/]+)\/(ack|snooze)$/.exec(url.pathname);
    if (act && req.method === 'POST' && this.inbound) {
      // A page on another site must not make a farm browser acknowledge alerts (CSRF): browsers say where a
      // form comes from; tools like curl send no Origin and are let through.
      if (!sameOrigin(req)) return send(res, 403, { error: 'cross-site request refused' });
      await readBody(req, 4096);
      const n = this.inbound.act(decodeURIComponent(act[1]!), act[2] === 'ack' ? 'acknowledge' : 'snooze');
      // A form on the status page posts here: send the browser back to the page.
      if ((req.headers.accept ?? '').includes('text/html')) {
        res.writeHead(303, { location: '/' });
        return void res.end();
      }
      return send(res, n ? 200 : 409, n ? { ok: true } : { error: 'no open, unacknowledged alert with that id' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET' });
    switch (url.pathname) {
      case '/healthz': {
        const h = this.source.health();
        const lastMessageAt = h.lastMessageAt === null ? null : new Date(h.lastMessageAt).toISOString();
        return send(res, h.ok ? 200 : 503, { ...h, lastMessageAt });
      }
      case '/api/status':
        return send(res, 200, this.source.status());
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
      case '/':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return void res.end(this.page());
      default:
        return send(res, 404, { error: 'not found', routes: ['/', '/healthz', '/api/status', '/api/alerts?since=<ISO>', '/metrics'] });
    }
  }

  /** Meta's webhook: the GET subscription handshake, then signed POSTs. Unsigned or forged: 401, nothing changes. */
  private async whatsapp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const wa = this.inbound?.whatsapp;
    if (!wa) return send(res, 404, { error: 'WhatsApp is not configured' });
    if (req.method === 'GET') {
      const expected = wa.verifyToken?.reveal();
      const given = url.searchParams.get('hub.verify_token') ?? '';
      if (url.searchParams.get('hub.mode') === 'subscribe' && expected && safeEqual(given, expected)) {
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
    const s = this.source.status();
    const open = this.source.openAlerts();
    const recent = this.source.latestAlerts(20);
    const tz = this.source.timezone;
    const when = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(ms);
    const row = (cells: (string | number | null)[]) => `<tr>${cells.map((c) => `<td>${esc(String(c ?? '—'))}</td>`).join('')}</tr>`;
    const stateOf = (a: AlertRow) =>
      a.state === 'acknowledged' ? `acknowledged by ${a.ack?.by}` : a.state === 'snoozed' ? `snoozed by ${a.ack?.by} until ${when(a.ack?.until ?? 0)}` : a.state;
    const actions = (a: AlertRow) =>
      a.state === 'resolved' || a.state === 'acknowledged' || !this.inbound
        ? ''
        : `<form method="post" action="/api/alerts/${encodeURIComponent(a.id)}/ack"><button>Acknowledge</button></form>` +
          (a.state === 'firing' ? `<form method="post" action="/api/alerts/${encodeURIComponent(a.id)}/snooze"><button>Snooze</button></form>` : '');
    const alertRows = (list: AlertRow[], withActions: boolean) =>
      list.length
        ? list
            .map((a) => `<tr>${[a.severity, a.type, a.cowId, stateOf(a), when(a.at), formatAlert(a, { timezone: tz })].map((c) => `<td>${esc(c)}</td>`).join('')}${withActions ? `<td class="act">${actions(a)}</td>` : ''}</tr>`)
            .join('')
        : '<tr><td colspan="7">none</td></tr>';
    const people = s.notify.recipients
      .map((r) => row([r.name, r.channel, r.language, r.optedOut ? 'opted out (STOP)' : r.retrying ? 'retrying' : 'ok', r.pending, r.lastSentAt && when(Date.parse(r.lastSentAt)), r.lastError]))
      .join('');
    const paused = s.notify.paused.map((p) => `<p class="bad">${esc(`${p.channel} is paused until ${when(Date.parse(p.until))}: ${p.reason}`)}</p>`).join('');
    const messages = this.source.recentMessages(15)
      .map((m) => row([when(m.sentAt ?? m.createdAt), m.recipient, m.channel, m.status === 'sent' ? (m.delivery ?? 'sent') : m.status, m.items, m.text.length > 160 ? `${m.text.slice(0, 160)}…` : m.text, m.lastError]))
      .join('');
    return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cowbell · ${esc(s.farm.name ?? s.farm.id)}</title>
<style>body{font:14px system-ui,sans-serif;margin:1rem;color:#222}h1{font-size:1.3rem}h2{font-size:1.1rem}table{border-collapse:collapse;margin-bottom:1.2rem;max-width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top;white-space:pre-line}.bad{color:#b00}.good{color:#070}
.act form{display:inline}.act button{margin:0 .2rem .2rem 0}.wrap{overflow-x:auto}</style></head><body>
<h1>Cowbell · ${esc(s.farm.name ?? s.farm.id)} <span class="${s.ok ? 'good' : 'bad'}">${s.ok ? '● running' : '● attention'}</span></h1>
${paused}
<table>
${row(['Broker', `${s.broker.url} — ${s.broker.connected ? (s.broker.subscribed ? `connected${s.broker.lastError ? ` (${s.broker.lastError})` : ''}` : `connected, but NOT subscribed (check the broker ACL${s.broker.lastError ? `: ${s.broker.lastError}` : ''})`) : `disconnected${s.broker.lastError ? ` (${s.broker.lastError})` : ''}`}`])}
${row(['Collars', `${s.herd.collars} (${s.herd.warmingUp} still learning their normal)`])}
${row(['Newest reading (event time)', s.herd.watermark])}
${row(['Messages / readings / duplicates', `${s.ingest.messages} / ${s.ingest.readings} / ${s.ingest.duplicates}`])}
${row(['Quarantined payloads', s.store.quarantined])}
${s.ingest.impossible ? row(['Readings with impossible values (kept out of detection)', String(s.ingest.impossible)]) : ''}
${s.herd.futureStamped.length ? row(['Readings stamped in the future (collar clock wrong; not judged)', `${s.ingest.futureUnjudged} from ${s.herd.futureStamped.map((f) => `${f.collarId} (${f.ts})`).join(', ')}`]) : ''}
${row(['Feeds (MQTT, webhooks)', `${s.store.outboxPending} waiting, ${s.outbox.sent} sent, ${s.store.outboxFailed} failed`])}
${row(['Messages to people', `${s.notify.stats.messages ?? 0} sent carrying ${s.notify.stats.items ?? 0} notifications; ${s.notify.stats.failed ?? 0} refused, ${s.notify.stats.expired ?? 0} expired, ${s.notify.stats.dropped ?? 0} dropped`])}
</table>
<h2>Open alerts (${open.length})</h2><div class="wrap"><table><tr><th>severity</th><th>type</th><th>cow</th><th>state</th><th>at</th><th>message</th><th></th></tr>${alertRows(open, true)}</table></div>
<h2>People</h2><div class="wrap"><table><tr><th>name</th><th>channel</th><th>language</th><th>state</th><th>waiting</th><th>last message</th><th>last error</th></tr>${people || '<tr><td colspan="7">none</td></tr>'}</table></div>
<h2>Recent messages</h2><div class="wrap"><table><tr><th>when</th><th>to</th><th>channel</th><th>status</th><th>alerts</th><th>text</th><th>error</th></tr>${messages || '<tr><td colspan="7">none yet</td></tr>'}</table></div>
<h2>Latest alert changes</h2><div class="wrap"><table><tr><th>severity</th><th>type</th><th>cow</th><th>state</th><th>at</th><th>message</th></tr>${alertRows(recent, false)}</table></div>
<h2>Recently quarantined</h2><div class="wrap"><table><tr><th>received</th><th>topic</th><th>reason</th><th>bytes</th></tr>
${s.recentQuarantine.map((q) => row([q.receivedAt, q.topic, q.reason, q.bytes])).join('') || '<tr><td colspan="4">none</td></tr>'}</table></div>
</body></html>`;
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

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
