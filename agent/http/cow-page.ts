import type { CowDetail } from './farm.js';
import { alertList, cowLabel, esc, layout, stateBadge, type Times } from './html.js';

/**
 * The herd register's calving and service, and what the rules make of them: a cow due to calve (265-300 days
 * after her insemination) gets no heat alert, and a drop may be her calving.
 */
function registerLine(d: CowDetail): string {
  const r = d.register;
  if (r.calved === null && r.inseminated === null) return '';
  const parts: string[] = [];
  if (r.calved !== null) parts.push(`calved ${esc(r.calved)}`);
  if (r.inseminated !== null) parts.push(`inseminated ${esc(r.inseminated)}${r.daysSinceInsemination !== null ? ` (${r.daysSinceInsemination} days ago)` : ''}`);
  const due = r.dueToCalve ? ' <span class="muted">— due to calve: no heat is told for her, and less rumination and walking may be her calving</span>' : '';
  return `<dt>Herd register</dt><dd>${parts.join('; ')}${due}</dd>`;
}

/**
 * A cow's page at /cow/<id>: her charts (drawn in the browser by uPlot from /api/cows/<id>/series), her
 * alerts and her heats. Everything but the charts is in the HTML, so the page reads without its script.
 */
export function cowPage(d: CowDetail, t: Times, o: { farm: string; actions: boolean }): string {
  const c = d.cow;
  const label = cowLabel(c);
  const back = `/cow/${encodeURIComponent(c.cowId)}`;
  const open = d.alerts.filter((a) => a.state !== 'resolved');
  const past = d.alerts.filter((a) => a.state === 'resolved');
  const last = c.lastReadingAt === null ? null : Date.parse(c.lastReadingAt);
  const next = d.nextHeat === null ? null : Date.parse(d.nextHeat);
  const heats = d.heats.map((h) => `<tr><td class="main">${esc(t.when(Date.parse(h.since)))}</td><td data-label="days since the one before">${h.daysSincePrevious === null ? '—' : esc(h.daysSincePrevious)}</td></tr>`).join('');
  const chart = (id: string, title: string) => `<div class="chart"><h3>${esc(title)}</h3><div class="plot" id="${id}" role="img" aria-label="${esc(title)}"></div></div>`;
  const legend = `<div class="legend"><span><i style="background:#1f5fa8"></i>her readings</span><span><i style="background:rgba(60,154,60,.25)"></i>her normal ± spread</span>
<span><i style="background:#e67e22;height:1em;width:3px"></i>heat</span><span><i style="background:#c0392b;height:1em;width:3px"></i>health, down</span><span><i style="background:#7f8c8d;height:1em;width:3px"></i>collar</span></div>`;
  const body = `<p><a href="/">← herd</a></p>
<dl class="kv">
<dt>State</dt><dd>${stateBadge(c.state)}${c.state === 'learning' ? ` <span class="muted">${c.historyDays} of ${d.warmupDays} days needed before she is judged</span>` : c.historyDays < d.healthWarmupDays && c.collarId !== null ? ` <span class="muted">judged for heat; for health after about ${d.healthWarmupDays} days of readings</span>` : ''}</dd>
<dt>Collar</dt><dd>${esc(c.collarId ?? 'none (herd register)')}${c.registered ? '' : ' <span class="muted">not in the herd register: give it to its cow with "cowbell herd import"</span>'}</dd>
${c.group ? `<dt>Group</dt><dd>${esc(c.group)}</dd>` : ''}
${registerLine(d)}
<dt>Last reading</dt><dd>${last === null ? '—' : `${esc(t.when(last))} (${esc(t.ago(last))})`}</dd>
</dl>
<section id="open"><h2>Open alerts (${open.length})</h2>${alertList(open, t, { actions: o.actions, back, names: new Map([[c.cowId, c.name]]) })}</section>
<section id="charts" data-cow="${esc(c.cowId)}" data-tz="${esc(t.timezone)}"><h2>Last 7 days</h2>${legend}
${chart('act7', 'Activity per hour')}${chart('rum7', 'Rumination, minutes per hour')}
<h2>Last 30 days</h2>${chart('act30', 'Activity per hour')}${chart('rum30', 'Rumination, minutes per hour')}
<p class="muted">Times in ${esc(t.timezone)}. Her normal for an hour is the median of the same hour on her previous days; the band is its spread.</p></section>
<section id="heats"><h2>Heats</h2>
<dl class="kv"><dt>Last heat</dt><dd>${d.lastHeat ? esc(t.when(Date.parse(d.lastHeat))) : 'none seen yet'}</dd>
<dt>Next expected</dt><dd>${d.register.dueToCalve ? '— (due to calve)' : next === null ? '—' : `${esc(t.when(next))} (${esc(t.ago(next))}; 21 days after the last)`}</dd></dl>
${heats ? `<table class="cards"><thead><tr><th>onset</th><th>days since the one before</th></tr></thead><tbody>${heats}</tbody></table>` : ''}</section>
<section id="past"><h2>Past alerts (${past.length})</h2>${alertList(past, t, { actions: false, back, names: new Map([[c.cowId, c.name]]) })}</section>`;
  return layout({
    title: `${label} · Cowbell · ${o.farm}`,
    heading: `<a href="/">Cowbell</a> · Cow ${esc(label)}`,
    body,
    // Fresh every five minutes: her charts move by the quarter-hour, and a farmer may leave the page open.
    head: '<link rel="stylesheet" href="/assets/uPlot.min.css"><meta http-equiv="refresh" content="300">',
    script: '<script src="/assets/uPlot.iife.min.js"></script><script src="/assets/cow.js"></script>',
  });
}

export function notFoundPage(what: string): string {
  return layout({ title: 'Not found · Cowbell', heading: '<a href="/">Cowbell</a>', body: `<p>${esc(what)}</p><p><a href="/">← herd</a></p>` });
}
