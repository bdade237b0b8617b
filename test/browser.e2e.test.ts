import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFarm, type Farm } from './farm-fixture.js';

const CHROMIUM = '/usr/bin/chromium';

// What runs in the page is written as source text (this project's TypeScript has no DOM types) and made a
// function here, which playwright sends to the page as its source.
const inPage = (params: string, body: string) => new Function(params, body) as (els: unknown) => unknown;
const IN_PAGE = {
  cowOrder: inPage('trs', 'return trs.map((tr) => tr.dataset.cow)'),
  /** Per canvas: its width and how many pixels are not blank. */
  inked: inPage('cs', `return cs.map((c) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return { width: c.width, inked: n };
  })`),
  openDetails: inPage('ds', 'ds.forEach((d) => { d.open = true; })'),
  fit: '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
  /**
   * Cells squeezed so narrow that their text breaks every few letters (what the old page's message column
   * did on a phone): the text's line boxes are counted, and fewer than five letters a line is squeezed.
   */
  squeezed: inPage('els', `return els.filter((e) => {
    const text = (e.textContent || '').trim();
    if (text.length < 8 || e.getBoundingClientRect().width === 0) return false;
    const range = document.createRange();
    range.selectNodeContents(e);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    return lines > 2 && text.length / lines < 5;
  }).map((e) => e.textContent)`),
};
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');

/**
 * The farm page in a real browser (Debian's chromium, driven by playwright-core) against a running agent
 * with a simulated herd: what a farmer sees on a desktop and on a phone, and that acknowledging works.
 */
describe.skipIf(!existsSync(CHROMIUM))(`farm page in a browser (needs ${CHROMIUM}: apt-get install chromium)`, () => {
  let farm: Farm;
  let browser: Browser;
  let profile: string;
  let context: BrowserContext;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    farm = await startFarm();
    profile = mkdtempSync(join(tmpdir(), 'cowbell-chromium-'));
    // A persistent context is the only way to hand chromium a fresh profile directory of our own.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    browser = context.browser()!;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close().catch(() => undefined);
    await farm?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** Every request the page makes must go to the agent: it has to work on a farm without internet. */
  async function open(path: string, viewport?: { width: number; height: number }): Promise<{ page: Page; foreign: string[]; errors: string[] }> {
    const page = await context.newPage();
    if (viewport) await page.setViewportSize(viewport);
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(farm.url)) foreign.push(r.url());
    });
    // Errors the page throws, and what the browser's console shows a technician (a failed request among them:
    // the browser asked for /favicon.ico, which 404ed, until the page named its own icon): none on loading,
    // and none by the time each test is done with the page.
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${farm.url}${path}`, { waitUntil: 'networkidle' });
    expect(errors).toEqual([]);
    return { page, foreign, errors };
  }

  it('the overview lists every cow and filters them by state', async () => {
    const { page, foreign, errors } = await open('/');
    const rows = page.locator('#cows tbody tr[data-cow]');
    expect(await rows.count()).toBe(farm.sim.cows.length);
    for (const c of farm.sim.cows) expect(await page.locator(`#cows a[href="/cow/${c.cowId}"]`).count()).toBe(1);
    expect(await page.locator('#open li.alert').count()).toBe(farm.agent.store.openAlerts().length);
    await page.screenshot({ path: join(SHOTS, 'overview-desktop.png'), fullPage: true });

    const state = await rows.first().getAttribute('data-state');
    await page.locator(`.chips button[data-filter="${state}"]`).click();
    const shown = await page.locator('#cows tbody tr[data-cow]:visible').count();
    expect(shown).toBe(await page.locator(`#cows tbody tr[data-state="${state}"]`).count());
    expect(shown).toBeLessThanOrEqual(farm.sim.cows.length);
    await page.locator('.chips button[data-filter=""]').click();
    await page.selectOption('#sort', 'cow');
    const order = (await page.locator('#cows tbody tr[data-cow]').evaluateAll(IN_PAGE.cowOrder)) as string[];
    expect(order).toEqual([...order].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a cow's page draws her charts with uPlot", async () => {
    const withAlert = farm.agent.store.openAlerts()[0]!;
    const { page, foreign, errors } = await open(`/cow/${encodeURIComponent(withAlert.cowId)}`);
    await page.waitForSelector('#charts[data-ready="true"]', { timeout: 15_000 });
    const canvases = page.locator('#charts canvas');
    expect(await canvases.count()).toBe(4);
    // Non-empty: the canvas has pixels that are not background.
    const inked = (await canvases.evaluateAll(IN_PAGE.inked)) as { width: number; inked: number }[];
    for (const c of inked) {
      expect(c.width).toBeGreaterThan(200);
      expect(c.inked).toBeGreaterThan(1000);
    }
    expect(await page.locator('#open li.alert').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'cow-desktop.png'), fullPage: true });
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('acknowledging an alert on the page shows it acknowledged', async () => {
    const { page, errors } = await open('/');
    const card = page.locator('#open li.alert.st-firing').first();
    const id = (await card.getAttribute('data-alert'))!;
    await Promise.all([page.waitForURL(`${farm.url}/`), card.getByRole('button', { name: 'Acknowledge' }).click()]);
    const after = page.locator(`#open li.alert[data-alert="${id}"]`);
    await expect.poll(() => after.getAttribute('class')).toContain('st-acknowledged');
    expect(await after.locator('.astate').textContent()).toBe('acknowledged by status page');
    expect(await after.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    expect(farm.agent.store.alert(id)?.state).toBe('acknowledged');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('is usable on a 390 px phone: nothing scrolls sideways, no column squeezed to a letter a line', async () => {
    for (const [name, path] of [['overview', '/'], ['cow', `/cow/${encodeURIComponent(farm.agent.store.openAlerts()[0]!.cowId)}`]] as const) {
      const { page, errors } = await open(path, { width: 390, height: 844 });
      if (name === 'cow') await page.waitForSelector('#charts[data-ready="true"]', { timeout: 15_000 });
      await page.locator('details').evaluateAll(IN_PAGE.openDetails);
      const fit = (await page.evaluate(IN_PAGE.fit)) as { scroll: number; client: number };
      expect(fit.scroll, `${name}: page wider than the phone`).toBeLessThanOrEqual(fit.client);
      const narrow = await page.locator('td, .msg, dd').evaluateAll(IN_PAGE.squeezed);
      expect(narrow, `${name}: cells squeezed`).toEqual([]);
      await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
      if (name === 'overview') {
        await page.locator('#open').screenshot({ path: join(SHOTS, 'overview-phone-alerts.png') });
        await page.locator('#gateway').screenshot({ path: join(SHOTS, 'overview-phone-gateway.png') });
      }
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: join(SHOTS, `${name}-phone-top.png`) });
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  // Last: it renames a cow, which the tests above rely on.
  it('the herd register is imported from the page, and the cow is then shown by her number and name', async () => {
    const collar = farm.sim.cows[0]!.collarId;
    const { page, errors } = await open('/');
    await page.locator('#register summary').click();
    await page.setInputFiles('#herd-file', { name: 'herd.csv', mimeType: 'text/csv', buffer: Buffer.from(`cow;name;collar;group\n412;Bella;${collar};dry\n`) });
    await page.locator('#herd-import').click();
    await expect.poll(() => page.locator('#herd-result').textContent()).toContain(`collar ${collar} put on cow 412`);
    await page.locator('#register').screenshot({ path: join(SHOTS, 'overview-register.png') });
    await page.reload();
    const link = page.locator('#cows a[href="/cow/412"]');
    expect(await link.textContent()).toBe('412 Bella');
    expect(await page.locator('#cows tr[data-cow="412"] td[data-label="group"]').textContent()).toBe('dry');
    expect(farm.agent.pipeline.detector.cows.get('412')!.historyDays()).toBeGreaterThan(10);

    // A file with a mistake says so on the page and changes nothing. The import answers it 400, which the
    // browser's console logs; nothing else may be there.
    expect(errors).toEqual([]);
    await page.locator('#register summary').click();
    await page.setInputFiles('#herd-file', { name: 'herd.csv', mimeType: 'text/csv', buffer: Buffer.from('cow,collar,calved\n413,,31.02.2026\n') });
    await page.locator('#herd-import').click();
    await expect.poll(() => page.locator('#herd-result').textContent()).toContain('line 2: calved "31.02.2026" is not a date');
    expect(farm.agent.store.herd.hasCow('413')).toBe(false);
    expect(errors).toEqual([expect.stringContaining('status of 400')]);
    await page.close();
  });
});
