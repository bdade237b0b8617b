import { describe, expect, it } from 'vitest';
import { MAX_READINGS_PER_MESSAGE, parseMessage, parseTopic } from '../agent/ingest/payload.js';

const topic = 'farm/f1/collar/C1/reading';
const parse = (body: unknown, t = topic) => parseMessage(t, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

describe('wire contract: readings', () => {
  it('accepts one reading with ISO or epoch-ms time, defaults intervalS to 900 and keeps optional fields', () => {
    const iso = parse({ ts: '2026-11-25T10:15:00+01:00', activity: 42, rumination: 6.5, batteryPct: 80, seq: 3, extra: 'ignored' });
    expect(iso).toEqual({
      ok: true, farmId: 'f1', collarId: 'C1', rejected: [],
      readings: [{ collarId: 'C1', ts: Date.parse('2026-11-25T09:15:00Z'), intervalS: 900, activity: 42, rumination: 6.5, batteryPct: 80, seq: 3 }],
    });
    const ms = parse({ ts: 1795600000000, activity: 0, intervalS: 60 });
    expect(ms.ok && ms.readings[0]).toMatchObject({ ts: 1795600000000, intervalS: 60, activity: 0 });
  });

  it('accepts a backlog batch and rejects only its bad rows', () => {
    const r = parse({ readings: [{ ts: 1795600000000, activity: 1 }, { ts: 1795600900000, activity: -3 }, { ts: 1795601800000, activity: 2 }] });
    expect(r.ok && r.readings.map((x) => x.activity)).toEqual([1, 2]);
    expect(r.ok && r.rejected).toEqual([{ reason: expect.stringMatching(/^readings\[1\] activity: /) }]);
  });

  it.each([
    ['a missing time', { activity: 1 }, /ts: required/],
    ['a time without a zone', { ts: '2026-11-25T10:15:00', activity: 1 }, /zone/],
    ['epoch seconds', { ts: 1795600000, activity: 1 }, /epoch seconds/],
    ['a missing activity', { ts: 1795600000000 }, /activity/],
    ['a string activity', { ts: 1795600000000, activity: '5' }, /activity/],
    ['an interval out of range', { ts: 1795600000000, activity: 1, intervalS: 30 }, /intervalS/],
    ['more rumination minutes than the interval', { ts: 1795600000000, activity: 1, intervalS: 900, rumination: 16 }, /more minutes/],
    ['a battery over 100 %', { ts: 1795600000000, activity: 1, batteryPct: 101 }, /batteryPct/],
    ['a fractional seq', { ts: 1795600000000, activity: 1, seq: 1.5 }, /seq/],
    ['a collarId that differs from the topic', { ts: 1795600000000, activity: 1, collarId: 'C2' }, /does not match/],
  ])('rejects %s', (_name, body, reason) => {
    const r = parse(body);
    expect(r.ok && r.readings).toEqual([]);
    expect(r.ok && r.rejected[0]?.reason).toMatch(reason);
  });

  it.each([
    ['invalid JSON', '{"ts": 1', /^invalid JSON/],
    ['NaN, which JSON does not have', '{"ts": 1795600000000, "activity": NaN}', /^invalid JSON/],
    ['a JSON array', '[1,2]', /must be a JSON object/],
    ['a non-array readings', '{"readings": {}}', /must be an array/],
    ['an empty batch', '{"readings": []}', /empty/],
    ['an oversized batch', JSON.stringify({ readings: Array.from({ length: MAX_READINGS_PER_MESSAGE + 1 }, () => ({ ts: 1795600000000, activity: 1 })) }), /at most 1000/],
    ['a payload over the size limit', 'x'.repeat(600 * 1024), /over the .*-byte limit/],
  ])('rejects a whole message with %s', (_name, body, reason) => {
    const r = parse(body);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it('accepts only topics of the contract with plain ids', () => {
    expect(parseTopic('farm/f1/collar/C-1.a/reading')).toEqual({ farmId: 'f1', collarId: 'C-1.a' });
    expect(parseTopic('farm/f1/collar/C1/status')).toBeNull();
    expect(parseTopic('farm/f1/collar/C 1/reading')).toBeNull();
    expect(parse({ ts: 1795600000000, activity: 1 }, 'farm/f1/collar/C1').ok).toBe(false);
  });
});
