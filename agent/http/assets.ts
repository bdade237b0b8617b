import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Everything the farm page loads comes from the agent itself: a gateway on a farm is often offline, or
 * behind a 4G link nobody wants to spend on a CDN.
 */

export interface Asset {
  type: string;
  body: string | Buffer;
}

// Resolved through the package, not a path relative to this file, so it works from agent/ and dist/ alike.
const require = createRequire(import.meta.url);
const fromPackage = (file: string, type: string) => {
  let body: Buffer | null = null;
  return (): Asset => ({ type, body: (body ??= readFileSync(require.resolve(file))) });
};

/** The overview's sorting and filtering; the chosen view survives the page's own reload. */
const FARM_JS = `(() => {
  const tbody = document.querySelector('#cows tbody');
  if (!tbody) return;
  const rows = [...tbody.querySelectorAll('tr[data-cow]')];
  const chips = [...document.querySelectorAll('.chips button')];
  const q = document.getElementById('q');
  const sort = document.getElementById('sort');
  const saved = JSON.parse(sessionStorage.getItem('cowbell.view') || '{}');
  let view = { filter: saved.filter || '', q: saved.q || '', sort: saved.sort || 'state', dir: saved.dir || 1 };
  const cmp = {
    state: (a, b) => a.dataset.rank - b.dataset.rank || byCow(a, b),
    cow: (a, b) => byCow(a, b),
    last: (a, b) => b.dataset.last - a.dataset.last,
  };
  function byCow(a, b) { return a.dataset.cow.localeCompare(b.dataset.cow, 'en', { numeric: true }); }
  function apply() {
    sessionStorage.setItem('cowbell.view', JSON.stringify(view));
    const needle = view.q.trim().toLowerCase();
    for (const r of rows) r.hidden = (view.filter && r.dataset.state !== view.filter) || (needle && !r.dataset.search.includes(needle));
    for (const c of chips) c.setAttribute('aria-pressed', String(c.dataset.filter === view.filter));
    const sorted = [...rows].sort((a, b) => view.dir * (cmp[view.sort] || cmp.state)(a, b));
    for (const r of sorted) tbody.appendChild(r);
    q.value = view.q;
    sort.value = view.sort;
  }
  for (const c of chips) c.addEventListener('click', () => { view.filter = c.dataset.filter; apply(); });
  q.addEventListener('input', () => { view.q = q.value; apply(); });
  sort.addEventListener('change', () => { view.sort = sort.value; view.dir = 1; apply(); });
  for (const b of document.querySelectorAll('th button[data-sort]')) {
    b.addEventListener('click', () => { view.dir = view.sort === b.dataset.sort ? -view.dir : 1; view.sort = b.dataset.sort; apply(); });
  }
  apply();
  // The herd register: a CSV posted as it is (same origin, so the agent's cross-site check lets it in).
  const file = document.getElementById('herd-file');
  const result = document.getElementById('herd-result');
  const importButton = document.getElementById('herd-import');
  if (file && result && importButton) {
    importButton.addEventListener('click', async () => {
      if (!file.files.length) { result.textContent = 'Choose a CSV file first.'; return; }
      result.textContent = 'Importing…';
      try {
        const res = await fetch('/api/herd', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: file.files[0] });
        const body = await res.json();
        if (!res.ok) { result.textContent = body.error || ('The agent said ' + res.status); return; }
        result.textContent = body.cows + (body.cows === 1 ? ' cow' : ' cows') + ' in the file, ' + body.updated + ' new or changed' +
          (body.collarChanges.length ? '; ' + body.collarChanges.join('; ') : '') + (body.retired.length ? '; forgotten by the detector: cow ' + body.retired.join(', cow ') : '');
        file.value = '';
      } catch (err) {
        result.textContent = 'Could not reach the agent: ' + err.message;
      }
    });
  }
  // Fresh every 30 s, but never while someone is typing, choosing a herd file or reading an import's result.
  setInterval(() => {
    const busy = document.activeElement === q || (file && file.files.length) || (result && result.textContent);
    if (!busy && !document.hidden) location.reload();
  }, 30000);
})();
`;

/** The cow page's charts: her hourly readings over her normal's band, with her alerts marked. */
const COW_JS = `(() => {
  const box = document.getElementById('charts');
  if (!box || !window.uPlot) return;
  const cow = box.dataset.cow, tz = box.dataset.tz;
  const colour = { heat: '#e67e22', missed_heat: '#e67e22', health: '#c0392b', down_cow: '#7b1fa2', collar_offline: '#7f8c8d', collar_fault: '#7f8c8d', battery_low: '#7f8c8d' };
  const markers = (alerts) => ({
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.lineWidth = 2 * devicePixelRatio;
        for (const a of alerts) {
          const x = u.valToPos(a.since, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.strokeStyle = colour[a.type] || '#555';
          ctx.setLineDash(a.state === 'resolved' ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        }
        ctx.restore();
      }],
    },
  });
  // uPlot's own labels are American (12pm, 11/26); a farm reads 24-hour times and day names, in its own zone.
  const part = (opts) => new Intl.DateTimeFormat('en-GB', Object.assign({ timeZone: tz }, opts));
  const hourFmt = part({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const dayFmt = part({ weekday: 'short', day: 'numeric' });
  const dateFmt = part({ day: 'numeric', month: 'short' });
  const xLabels = (u, splits) => {
    const step = splits.length > 1 ? splits[1] - splits[0] : 86400;
    return splits.map((v) => {
      const d = new Date(v * 1e3);
      if (step >= 86400) return dateFmt.format(d);
      const hm = hourFmt.format(d);
      return hm === '00:00' ? dayFmt.format(d) : hm;
    });
  };
  function draw(el, s, values, band, unit) {
    el.textContent = '';
    const has = values.some((v) => v !== null);
    if (!has) { el.innerHTML = '<p class="none">no readings in these days</p>'; return null; }
    const opts = {
      width: Math.max(200, el.clientWidth), height: 180,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.05)] } },
      axes: [{ size: 32, values: xLabels }, { size: 52 }],
      series: [
        {},
        { label: 'normal, high', stroke: 'rgba(60,154,60,.35)', width: 1, points: { show: false } },
        { label: 'normal, low', stroke: 'rgba(60,154,60,.35)', width: 1, points: { show: false } },
        { label: 'normal', stroke: 'rgba(60,154,60,.9)', width: 1, dash: [4, 4], points: { show: false } },
        { label: unit, stroke: '#1f5fa8', width: 1.5, points: { show: false } },
      ],
      bands: [{ series: [1, 2], fill: 'rgba(60,154,60,.18)' }],
      plugins: [markers(s.alerts)],
    };
    return new uPlot(opts, [s.t, band.hi, band.lo, band.mid, values], el);
  }
  const plots = [];
  async function load(days) {
    const res = await fetch('/api/cows/' + encodeURIComponent(cow) + '/series?days=' + days);
    if (!res.ok) throw new Error('series: HTTP ' + res.status);
    const s = await res.json();
    plots.push(draw(document.getElementById('act' + days), s, s.activity, s.band.activity, 'activity'));
    plots.push(draw(document.getElementById('rum' + days), s, s.rumination, s.band.rumination, 'min/h'));
  }
  Promise.all([load(7), load(30)]).then(() => { box.dataset.ready = 'true'; }).catch((err) => {
    box.insertAdjacentHTML('beforeend', '<p class="banner">charts unavailable: ' + String(err.message).replace(/[<>&]/g, '') + '</p>');
    box.dataset.ready = 'error';
  });
  let timer;
  addEventListener('resize', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { for (const p of plots) if (p) p.setSize({ width: Math.max(200, p.root.parentElement.clientWidth), height: 180 }); }, 150);
  });
})();
`;

const ASSETS: Record<string, () => Asset> = {
  '/assets/uPlot.iife.min.js': fromPackage('uplot/dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8'),
  '/assets/uPlot.min.css': fromPackage('uplot/dist/uPlot.min.css', 'text/css; charset=utf-8'),
  '/assets/farm.js': () => ({ type: 'text/javascript; charset=utf-8', body: FARM_JS }),
  '/assets/cow.js': () => ({ type: 'text/javascript; charset=utf-8', body: COW_JS }),
};

export function asset(path: string): Asset | null {
  return ASSETS[path]?.() ?? null;
}
