import type { MessageRow } from '../store/notify-store.js';
import type { AlertRow } from '../store/store.js';
import { COW_STATES, COW_STATE_LABEL, type CowSummary, type GatewayInfo } from './farm.js';
import { alertList, bytes, cowLabel, duration, esc, layout, stateBadge, TYPE_LABEL, type Times } from './html.js';
import type { AgentStatus } from './server.js';

export interface OverviewData {
  status: AgentStatus;
  cows: CowSummary[];
  open: AlertRow[];
  recent: AlertRow[];
  messages: MessageRow[];
  gateway: GatewayInfo;
  /** Whether the page may acknowledge and snooze (the agent wired the routes). */
  actions: boolean;
  /** Whether the page sits behind the login (then it offers to log out, on a shared tablet say). */
  login?: boolean;
}

/** The herd overview at `/`: every cow at a glance, the open alerts, and how the gateway is doing. */
export function overviewPage(d: OverviewData, t: Times): string {
  const s = d.status;
  const g = d.gateway;
  const farm = s.farm.name ?? s.farm.id;
  const names = new Map(d.cows.map((c) => [c.cowId, c.name]));
  const rank = (c: CowSummary) => COW_STATES.indexOf(c.state);
  const cows = [...d.cows].sort((a, b) => rank(a) - rank(b) || a.cowId.localeCompare(b.cowId, 'en', { numeric: true }));
  const counts = new Map<string, number>();
  for (const c of cows) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
  const chips = [`<button type="button" data-filter="" aria-pressed="true">all ${cows.length}</button>`,
    ...COW_STATES.filter((st) => counts.get(st)).map((st) => `<button type="button" data-filter="${st}" aria-pressed="false">${esc(COW_STATE_LABEL[st])} ${counts.get(st)}</button>`)].join('');
  // A column nobody has filled (no groups before the herd register) is left out rather than shown empty.
  const groups = cows.some((c) => c.group);
  // "unassigned" means something only once there is a register to be missing from.
  const register = cows.some((c) => c.registered);
  const cowRows = cows.map((c) => {
    const last = c.lastReadingAt === null ? null : Date.parse(c.lastReadingAt);
    const alerts = c.openAlerts.map((a) => TYPE_LABEL[a.type] ?? a.type).join(', ');
    const learning = c.state === 'learning' ? ` <span class="muted">(${c.historyDays} ${c.historyDays === 1 ? 'day' : 'days'} so far)</span>` : '';
    return `<tr data-state="${esc(c.state)}" data-rank="${rank(c)}" data-cow="${esc(c.cowId)}" data-last="${last ?? 0}" data-search="${esc(`${cowLabel(c)} ${c.collarId ?? ''} ${c.group ?? ''}`.toLowerCase())}">
<td class="main"><a href="/cow/${encodeURIComponent(c.cowId)}">${esc(cowLabel(c))}</a></td>
<td>${stateBadge(c.state)}${learning}${c.dueToCalve ? ' <span class="muted">due to calve</span>' : ''}</td>
${groups ? `<td data-label="group">${esc(c.group ?? '—')}</td>` : ''}
<td data-label="collar">${esc(c.collarId ?? 'none')}${register && !c.registered ? ' <span class="muted">unassigned</span>' : ''}</td>
<td data-label="last reading">${last === null ? '—' : `<span title="${esc(t.when(last))}">${esc(t.ago(last))}</span>`}</td>
<td data-label="open alerts"${alerts ? '' : ' class="empty"'}>${esc(alerts || '—')}</td></tr>`;
  }).join('');

  const broker = s.broker.connected
    ? s.broker.subscribed
      ? `<span class="good">connected</span>${s.broker.lastError ? ` (${esc(s.broker.lastError)})` : ''}`
      : `<span class="bad">connected, but NOT subscribed</span> (check the broker ACL${s.broker.lastError ? `: ${esc(s.broker.lastError)}` : ''})`
    : `<span class="bad">disconnected</span>${s.broker.lastError ? ` (${esc(s.broker.lastError)})` : ''}`;
  const ahead = g.stampedAhead.length
    ? `${s.ingest.futureUnjudged} readings stamped in the future (collar clock wrong; not judged), from ${g.stampedAhead.map((f) => `${esc(f.collarId)}${f.cowId && f.cowId !== f.collarId ? ` (cow ${esc(f.cowId)})` : ''} at ${esc(f.ts)}`).join(', ')}`
    : 'none stamped ahead';
  const disk = g.disk ? `; ${bytes(g.disk.freeBytes)} free of ${bytes(g.disk.totalBytes)}` : '';
  const people = s.notify.recipients.map((r) => `<tr><td class="main">${esc(r.name)}</td><td data-label="channel">${esc(r.channel)} (${esc(r.language)})</td>
<td data-label="state">${esc(r.optedOut ? 'opted out (STOP)' : r.retrying ? 'retrying' : 'ok')}</td><td data-label="waiting">${r.pending}</td>
<td data-label="last message">${esc(r.lastSentAt ? t.when(Date.parse(r.lastSentAt)) : '—')}</td><td data-label="last error">${esc(r.lastError ?? '—')}</td></tr>`).join('');
  const messages = d.messages.map((m) => `<tr><td class="main">${esc(t.when(m.sentAt ?? m.createdAt))} → ${esc(m.recipient)}</td><td data-label="channel">${esc(m.channel)}</td>
<td data-label="status">${esc(m.status === 'sent' ? (m.delivery ?? 'sent') : m.status)}</td><td data-label="text" class="msg">${esc(m.text.length > 160 ? `${m.text.slice(0, 160)}…` : m.text)}</td><td data-label="error">${esc(m.lastError ?? '—')}</td></tr>`).join('');
  const quarantine = s.recentQuarantine.map((q) => `<tr><td class="main">${esc(t.when(Date.parse(q.receivedAt)))}</td><td data-label="topic">${esc(q.topic)}</td><td data-label="reason">${esc(q.reason)}</td><td data-label="bytes">${q.bytes}</td></tr>`).join('');
  const paused = s.notify.paused.map((p) => `<p class="banner">${esc(`${p.channel} is paused until ${t.when(Date.parse(p.until))}: ${p.reason}`)}</p>`).join('');

  const body = `${paused}
<section id="herd"><h2>Herd (${cows.length})</h2>
<div class="chips" role="group" aria-label="show cows">${chips}</div>
<div class="tools"><input type="search" id="q" placeholder="find a cow" aria-label="find a cow">
<label>sort <select id="sort"><option value="state">worst first</option><option value="cow">cow</option><option value="last">last reading</option></select></label></div>
<table class="cards" id="cows"><thead><tr><th><button type="button" data-sort="cow">cow</button></th><th><button type="button" data-sort="state">state</button></th>${groups ? '<th>group</th>' : ''}<th>collar</th><th><button type="button" data-sort="last">last reading</button></th><th>open alerts</th></tr></thead>
<tbody>${cowRows || '<tr><td>no cows heard yet</td></tr>'}</tbody></table>
<details id="register"><summary>Herd register</summary>
<p>Which cow wears which collar, her name and group: <a href="/api/herd.csv" download>download herd.csv</a>, edit it in a spreadsheet, and import it again.
A collar that reported unassigned keeps what it learned when it is given to its cow. (Columns and rules: README, "The herd register".)</p>
<p><input type="file" id="herd-file" accept=".csv,text/csv,text/plain" aria-label="herd file"> <button type="button" id="herd-import">Import</button></p>
<p><output id="herd-result" aria-live="polite"></output></p></details></section>
<section id="open"><h2>Open alerts (${d.open.length})</h2>${alertList(d.open, t, { actions: d.actions, back: '/', names })}</section>
<section id="gateway"><h2>Gateway</h2><dl class="kv">
<dt>Broker</dt><dd>${esc(s.broker.url)} — ${broker}</dd>
<dt>Readings</dt><dd>${g.readingsPerMinute} per minute now; ${s.ingest.readings} since start (${s.ingest.duplicates} duplicates); newest ${esc(s.herd.watermark ? t.when(Date.parse(s.herd.watermark)) : '—')}</dd>
<dt>Collars</dt><dd>${s.herd.collars} (${s.herd.warmingUp} still learning their normal)${s.ingest.unassignedRefused ? `; <span class="bad">${s.ingest.unassignedRefused} messages of new collars refused</span> (herd.maxUnassignedCollars reached: add them to the herd register)` : ''}${s.ingest.unassignedForgotten ? `; ${s.ingest.unassignedForgotten} unassigned collars forgotten after a silence` : ''}</dd>
<dt>Quarantined</dt><dd>${s.store.quarantined} payloads${s.recentQuarantine.length ? ' (latest below)' : ''}</dd>
${g.seqGaps.length ? `<dt>Readings lost upstream</dt><dd class="bad">${g.seqGaps.reduce((n, x) => n + x.missing, 0)} never arrived, by the collars' sequence numbers: ${g.seqGaps.map((x) => `${esc(x.collarId)} (${x.missing})`).join(', ')} — lost before they reached the agent: a collar out of its gateway's range, the gateway's own link, or the broker's queue (README, "Delivery guarantees")</dd>` : ''}
<dt>Late or ahead</dt><dd>${g.lateUnjudged} readings came too late to be judged (stored only)${g.lateCows.length ? `, for ${g.lateCows.map((l) => `<a href="/cow/${encodeURIComponent(l.cowId)}">${esc(cowLabel({ cowId: l.cowId, name: names.get(l.cowId) ?? null }))}</a> (${l.readings})`).join(', ')}` : ''}; ${ahead}</dd>
${s.ingest.impossible ? `<dt>Impossible values</dt><dd>${s.ingest.impossible} readings kept out of detection</dd>` : ''}
<dt>Feeds (MQTT, webhooks)</dt><dd>${s.store.outboxPending} waiting, ${s.outbox.sent} sent, <span class="${s.store.outboxFailed ? 'bad' : ''}">${s.store.outboxFailed} failed</span></dd>
<dt>Messages to people</dt><dd>${s.notify.stats.messages ?? 0} sent carrying ${s.notify.stats.items ?? 0} notifications; ${s.notify.stats.failed ?? 0} refused, ${s.notify.stats.expired ?? 0} expired, ${s.notify.stats.dropped ?? 0} dropped</dd>
<dt>Database</dt><dd>${bytes(g.dbBytes)} (${s.store.readings} readings)${disk}</dd>
<dt>Agent</dt><dd>cowbell ${esc(g.version)}, up ${duration(g.uptimeS)}; times in ${esc(t.timezone)}</dd>
</dl>
<details${s.recentQuarantine.length ? ' open' : ''}><summary>Recently quarantined (${s.recentQuarantine.length})</summary>
<table class="cards"><thead><tr><th>received</th><th>topic</th><th>reason</th><th>bytes</th></tr></thead><tbody>${quarantine || '<tr><td>none</td></tr>'}</tbody></table></details>
<details><summary>People (${s.notify.recipients.length})</summary>
<table class="cards"><thead><tr><th>name</th><th>channel</th><th>state</th><th>waiting</th><th>last message</th><th>last error</th></tr></thead><tbody>${people || '<tr><td>none</td></tr>'}</tbody></table></details>
<details><summary>Recent messages (${d.messages.length})</summary>
<table class="cards"><thead><tr><th>when, to</th><th>channel</th><th>status</th><th>text</th><th>error</th></tr></thead><tbody>${messages || '<tr><td>none yet</td></tr>'}</tbody></table></details>
</section>
<section id="changes"><details><summary>Latest alert changes (${d.recent.length})</summary>${alertList(d.recent, t, { actions: false, back: '/', names })}</details></section>`;
  return layout({
    title: `Cowbell · ${farm}`,
    heading: `Cowbell · ${esc(farm)}`,
    status: { ok: s.ok },
    nav: `<span class="muted" style="color:#dfe8dc">${esc(t.when(t.now))}</span>${d.login ? ' <form method="post" action="/logout" style="display:inline"><button>Log out</button></form>' : ''}`,
    // Without the script the page still reloads itself; with it, the reload keeps the chosen filter and order.
    head: '<noscript><meta http-equiv="refresh" content="30"></noscript>',
    body,
    script: '<script src="/assets/farm.js" defer></script>',
  });
}
