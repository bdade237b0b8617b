import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alertToJson, type AlertRow } from '../store/store.js';
import { formatAlert } from '../notify/format.js';
import type { Logger } from '../log.js';

export interface StatusSource {
  /** Everything the status page and /api/status show; cheap enough to call per request. */
  status(): AgentStatus;
  /** Cheap: for supervisors polling /healthz. */
  health(): { ok: boolean; broker: boolean; subscribed: boolean; lastMessageAt: number | null };
  alertsSince(since: number, limit: number): AlertRow[];
  openAlerts(): AlertRow[];
  latestAlerts(limit: number): AlertRow[];
  timezone: string;
}

export interface AgentStatus {
  ok: boolean;
  farm: { id: string; name?: string | undefined };
  startedAt: string;
  broker: { url: string; connected: boolean; subscribed: boolean; lastError: string | null };
  ingest: { messages: number; readings: number; duplicates: number; quarantined: number; lateUnjudged: number; lastMessageAt: string | null };
  herd: { collars: number; warmingUp: number; watermark: string | null };
  store: { readings: number; quarantined: number; openAlerts: number; outboxPending: number; outboxFailed: number };
  outbox: { sent: number; retried: number; failed: number };
  recentQuarantine: { receivedAt: string; topic: string; reason: string; bytes: number }[];
}

const MAX_ALERTS = 1000;

/** Small and dependency-free on purpose: four routes do not need a framework. */
export class HttpServer {
  private server: Server | null = null;

  constructor(
    private readonly source: StatusSource,
    private readonly logger: Logger,
  ) {}

  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      try {
        this.route(req, res);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, url: req.url }, 'http handler failed');
        send(res, 500, { error: 'internal error' });
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET' });
    switch (url.pathname) {
      case '/healthz': {
        const h = this.source.health();
        const lastMessageAt = h.lastMessageAt === null ? null : new Date(h.lastMessageAt).toISOString();
        return send(res, h.ok ? 200 : 503, { ...h, lastMessageAt });
      }
      case '/api/status':
        return send(res, 200, this.source.status());
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
        return send(res, 404, { error: 'not found', routes: ['/', '/healthz', '/api/status', '/api/alerts?since=<ISO>'] });
    }
  }

  private page(): string {
    const s = this.source.status();
    const open = this.source.openAlerts();
    const recent = this.source.latestAlerts(20);
    const row = (cells: (string | number | null)[]) => `<tr>${cells.map((c) => `<td>${esc(String(c ?? '—'))}</td>`).join('')}</tr>`;
    const alertRows = (list: AlertRow[]) =>
      list.length
        ? list.map((a) => row([a.severity, a.type, a.cowId, a.state, new Date(a.at).toISOString(), formatAlert(a, { timezone: this.source.timezone })])).join('')
        : '<tr><td colspan="6">none</td></tr>';
    return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Cowbell · ${esc(s.farm.name ?? s.farm.id)}</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}h1{font-size:1.3rem}table{border-collapse:collapse;margin-bottom:1.2rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top;white-space:pre-line}.bad{color:#b00}.good{color:#070}</style></head><body>
<h1>Cowbell · ${esc(s.farm.name ?? s.farm.id)} <span class="${s.ok ? 'good' : 'bad'}">${s.ok ? '● running' : '● attention'}</span></h1>
<table>
${row(['Broker', `${s.broker.url} — ${s.broker.connected ? (s.broker.subscribed ? 'connected' : 'connected, but NOT subscribed (check the broker ACL)') : `disconnected${s.broker.lastError ? ` (${s.broker.lastError})` : ''}`}`])}
${row(['Collars', `${s.herd.collars} (${s.herd.warmingUp} still learning their normal)`])}
${row(['Newest reading (event time)', s.herd.watermark])}
${row(['Messages / readings / duplicates', `${s.ingest.messages} / ${s.ingest.readings} / ${s.ingest.duplicates}`])}
${row(['Quarantined payloads', s.store.quarantined])}
${row(['Outbox', `${s.store.outboxPending} waiting, ${s.outbox.sent} sent, ${s.store.outboxFailed} failed`])}
</table>
<h2>Open alerts (${open.length})</h2><table><tr><th>severity</th><th>type</th><th>cow</th><th>state</th><th>at</th><th>message</th></tr>${alertRows(open)}</table>
<h2>Latest alert changes</h2><table><tr><th>severity</th><th>type</th><th>cow</th><th>state</th><th>at</th><th>message</th></tr>${alertRows(recent)}</table>
<h2>Recently quarantined</h2><table><tr><th>received</th><th>topic</th><th>reason</th><th>bytes</th></tr>
${s.recentQuarantine.map((q) => row([q.receivedAt, q.topic, q.reason, q.bytes])).join('') || '<tr><td colspan="4">none</td></tr>'}</table>
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

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
