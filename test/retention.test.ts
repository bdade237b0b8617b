import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../agent/store/store.js';
import { tempDir } from './helpers.js';

describe('retention and the status counts', () => {
  it('deletes old readings a chunk at a time, letting the event loop run between chunks, and keeps the reading count without counting rows', async () => {
    const tmp = tempDir();
    const store = new Store(join(tmp.dir, 'r.db'));
    try {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      store.transaction(() => {
        for (let i = 0; i < 30_000; i++) store.insertReading({ collarId: `C${i % 10}`, ts: t0 + Math.floor(i / 10) * 900_000, intervalS: 900, activity: 5 }, t0);
      });
      expect(store.readingCount()).toBe(30_000);
      store.insertReading({ collarId: 'C0', ts: t0, intervalS: 900, activity: 5 }, t0); // a duplicate: not counted
      expect(store.readingCount()).toBe(30_000);
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      // The first 20,000 (2,000 quarter-hours of ten collars) are older than the cut.
      const deleted = await store.pruneReadings(t0 + 2_000 * 900_000, 1_000);
      clearInterval(ticker);
      expect(deleted).toBe(20_000);
      expect(turns).toBeGreaterThanOrEqual(5);
      expect(store.readingCount()).toBe(10_000);
      expect(store.counts().readings).toBe((store.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n);
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});
