import type { AlertType } from '../../rules/index.js';
import { formatAlert } from '../notify/render.js';
import type { AlertRow } from '../store/store.js';
import { COW_STATE_LABEL, type CowState } from './farm.js';

/** Shared pieces of the farm page's HTML: escaping, the layout, times in the farm's zone, alert cards. */

export function esc(s: string | number | null | undefined): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** "412 Bella" when the herd register names her, else her id. */
export function cowLabel(c: { cowId: string; name: string | null }): string {
  return c.name ? `${c.cowId} ${c.name}` : c.cowId;
}

export const TYPE_LABEL: Record<AlertType, string> = {
  heat: 'heat', health: 'health', down_cow: 'down cow', collar_offline: 'collar silent', collar_fault: 'collar fault',
  battery_low: 'battery low', missed_heat: 'missed heat',
};

export function stateBadge(state: CowState): string {
  return `<span class="badge s-${state}">${esc(COW_STATE_LABEL[state])}</span>`;
}

export interface Times {
  timezone: string;
  now: number;
  /** "Thu 26 Nov, 14:05" in the farm's zone. */
  when(ms: number): string;
  /** "12 min ago", "3 h ago", "in 4 days". */
  ago(ms: number): string;
}

export function times(timezone: string, now: number): Times {
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  return {
    timezone,
    now,
    when: (ms) => fmt.format(ms),
    ago: (ms) => {
      const d = now - ms;
      const a = Math.abs(d);
      const s = a < 90_000 ? `${Math.round(a / 1000)} s` : a < 90 * 60_000 ? `${Math.round(a / 60_000)} min` : a < 48 * 3_600_000 ? `${Math.round(a / 3_600_000)} h` : `${Math.round(a / 86_400_000)} days`;
      return d >= 0 ? `${s} ago` : `in ${s}`;
    },
  };
}

/** The alert's person-made state in words. */
export function alertState(a: AlertRow, t: Times): string {
  if (a.state === 'acknowledged') return `acknowledged by ${a.ack?.by ?? '?'}`;
  if (a.state === 'snoozed') return `snoozed by ${a.ack?.by ?? '?'} until ${t.when(a.ack?.until ?? 0)}`;
  return a.state;
}

/**
 * One alert as a card: the farmer's words (as his phone shows them), when, and the two buttons for an open
 * one. The forms post to the existing routes (same-origin check there); `back` is where the browser returns.
 */
export function alertCard(a: AlertRow, t: Times, o: { actions: boolean; back: string; cow?: { cowId: string; name: string | null } }): string {
  const open = a.state === 'firing' || a.state === 'snoozed';
  const q = `?back=${encodeURIComponent(o.back)}`;
  const buttons = o.actions && open
    ? `<div class="act"><form method="post" action="/api/alerts/${encodeURIComponent(a.id)}/ack${q}"><button>Acknowledge</button></form>` +
      (a.state === 'firing' ? `<form method="post" action="/api/alerts/${encodeURIComponent(a.id)}/snooze${q}"><button class="secondary">Snooze</button></form>` : '') +
      '</div>'
    : '';
  const cow = o.cow ?? { cowId: a.cowId, name: null };
  return `<li class="alert sev-${esc(a.severity)} st-${esc(a.state)}" data-alert="${esc(a.id)}">
<div class="head"><a href="/cow/${encodeURIComponent(a.cowId)}">${esc(cowLabel(cow))}</a> <span class="tag">${esc(TYPE_LABEL[a.type] ?? a.type)}</span> <span class="tag sev">${esc(a.severity)}</span> <span class="astate">${esc(alertState(a, t))}</span></div>
<div class="msg">${esc(formatAlert(a, { timezone: t.timezone }))}</div>
<div class="meta">since ${esc(t.when(a.since))} · ${a.state === 'resolved' ? `over ${esc(t.when(a.at))}` : `raised ${esc(t.when(a.raisedAt))}`}</div>${buttons}</li>`;
}

export function alertList(list: AlertRow[], t: Times, o: { actions: boolean; back: string; names?: Map<string, string | null> }): string {
  if (!list.length) return '<p class="none">none</p>';
  return `<ul class="alerts">${list.map((a) => alertCard(a, t, { ...o, cow: { cowId: a.cowId, name: o.names?.get(a.cowId) ?? null } })).join('')}</ul>`;
}

const CSS = `
*{box-sizing:border-box}
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2327;background:#f4f5f2}
header{background:#2f4a2a;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:baseline}
header h1{font-size:1.15rem;margin:0}header a{color:#fff}
main{padding:.5rem 1rem 2rem;max-width:1100px;margin:0 auto}
h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
a{color:#1f5fa8}
.good{color:#3c9a3c}.bad{color:#c0392b}header .bad{color:#ffb3a8}header .good{color:#b8f0b0}
.banner{background:#fdecea;border:1px solid #f5c2bd;padding:.5rem .7rem;border-radius:6px;margin:.6rem 0}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.85em;white-space:nowrap;background:#e3e6e1}
.s-down{background:#7b1fa2;color:#fff}.s-sick{background:#c0392b;color:#fff}.s-heat{background:#e67e22;color:#fff}
.s-watch{background:#f4d03f}.s-collar{background:#95a5a6;color:#fff}.s-learning{background:#d6eaf8}.s-normal{background:#d5f0d5}
.chips{display:flex;flex-wrap:wrap;gap:.35rem;margin:.3rem 0 .6rem}
.chips button{border:1px solid #c9cec5;background:#fff;border-radius:999px;padding:.3rem .7rem;font:inherit;cursor:pointer}
.chips button[aria-pressed=true]{background:#2f4a2a;color:#fff;border-color:#2f4a2a}
.tools{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.tools input,.tools select{font:inherit;padding:.3rem .5rem;border:1px solid #c9cec5;border-radius:6px;min-width:0}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:6px}
th,td{border-bottom:1px solid #e3e6e1;padding:.4rem .6rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;white-space:nowrap}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th button::after{content:" ⇅";color:#999}
ul.alerts{list-style:none;padding:0;margin:0;display:grid;gap:.5rem}
li.alert{background:#fff;border-left:5px solid #95a5a6;border-radius:6px;padding:.5rem .7rem;overflow-wrap:anywhere}
li.sev-urgent{border-left-color:#c0392b}li.sev-warning{border-left-color:#e67e22}li.sev-info{border-left-color:#3498db}
li.st-resolved{opacity:.75}
.alert .head{display:flex;flex-wrap:wrap;gap:.2rem .5rem;align-items:baseline}
.alert .head a{font-weight:600}
.tag{font-size:.8em;background:#eef0ec;border-radius:4px;padding:0 .35rem}
.astate{font-size:.85em;color:#555}
.msg{white-space:pre-line;margin:.25rem 0}
.meta{font-size:.85em;color:#666}
.act{display:flex;gap:.4rem;margin-top:.4rem}.act form{margin:0}
button{font:inherit}
.act button{padding:.35rem .9rem;border-radius:6px;border:1px solid #2f4a2a;background:#2f4a2a;color:#fff;cursor:pointer}
.act button.secondary{background:#fff;color:#2f4a2a}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;background:#fff;padding:.6rem .8rem;border-radius:6px;margin:0}
dl.kv dt{color:#555}dl.kv dd{margin:0;overflow-wrap:anywhere}
details{margin:.8rem 0}summary{cursor:pointer;font-weight:600}
.none{color:#666}
.chart{background:#fff;border-radius:6px;padding:.4rem;margin-bottom:.6rem;overflow:hidden}
.chart h3{font-size:.95rem;margin:.1rem .2rem .3rem}
.legend{font-size:.8em;color:#555;display:flex;flex-wrap:wrap;gap:.2rem .9rem;margin:.2rem}
.legend i{display:inline-block;width:1.2em;height:.6em;margin-right:.3em;vertical-align:middle}
.muted{color:#666;font-size:.9em}
@media (max-width:700px){
  main{padding:.4rem .6rem 2rem}
  table.cards thead{display:none}
  table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
  table.cards tr{background:#fff;border-radius:6px;margin-bottom:.4rem;padding:.3rem .2rem;border:1px solid #e3e6e1}
  table.cards td{border:0;padding:.15rem .5rem}
  table.cards td[data-label]::before{content:attr(data-label) ": ";color:#666;font-size:.85em}
  table.cards td.main{font-size:1.05em}
  #cows tr{display:flex;flex-wrap:wrap;align-items:baseline;gap:.1rem .6rem}
  #cows td{width:auto;padding:.1rem .4rem}#cows td.main{font-weight:600}#cows td.empty{display:none}
  dl.kv{grid-template-columns:1fr}dl.kv dd{margin-bottom:.35rem}
}
`;

export function layout(o: { title: string; heading: string; status?: { ok: boolean }; nav?: string; body: string; head?: string; script?: string }): string {
  const status = o.status ? ` <span class="${o.status.ok ? 'good' : 'bad'}">${o.status.ok ? '● running' : '● attention'}</span>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(o.title)}</title>${o.head ?? ''}
<link rel="icon" href="data:,">
<style>${CSS}</style></head><body>
<header><h1>${o.heading}${status}</h1>${o.nav ?? ''}</header>
<main>${o.body}</main>${o.script ?? ''}
</body></html>`;
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}
