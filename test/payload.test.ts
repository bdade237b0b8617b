import { describe, expect, it } from 'vitest';
import { MAX_ACCEL_SAMPLES, MAX_PAYLOAD_BYTES, MAX_READINGS_PER_MESSAGE, parseMessage, parseTopic } from '../agent/ingest/payload.js';

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
    expect(parseTopic('farm/f1/collar/C-1.a/reading')).toEqual({ farmId: 'f1', collarId: 'C-1.a', kind: 'reading' });
    expect(parseTopic('farm/f1/collar/C-1.a/accel')).toEqual({ farmId: 'f1', collarId: 'C-1.a', kind: 'accel' });
    expect(parseTopic('farm/f1/collar/C1/status')).toBeNull();
    expect(parseTopic('farm/f1/collar/C 1/reading')).toBeNull();
    expect(parse({ ts: 1795600000000, activity: 1 }, 'farm/f1/collar/C1').ok).toBe(false);
  });
});

describe('wire contract: raw accelerometer captures', () => {
  const accelTopic = 'farm/f1/collar/C1/accel';
  const still = (n: number) => Array.from({ length: n }, () => [0.01, -0.02, 0.99]);
  const body = (over: Record<string, unknown> = {}) => ({ ts: '2026-11-25T10:14:00+00:00', hz: 10, samples: still(1200), ...over });
  const accel = (b: unknown) => parse(b, accelTopic);

  it('turns a capture into activity readings for the topic\'s collar, with ISO or epoch-ms time', () => {
    const r = accel(body({ collarId: 'C1', extra: 'ignored' }));
    expect(r).toEqual({
      ok: true, farmId: 'f1', collarId: 'C1', rejected: [],
      readings: [
        { collarId: 'C1', ts: Date.parse('2026-11-25T10:15:00Z'), intervalS: 60, activity: 0 },
        { collarId: 'C1', ts: Date.parse('2026-11-25T10:16:00Z'), intervalS: 60, activity: 0 },
      ],
    });
    const ms = accel(body({ ts: Date.parse('2026-11-25T10:14:00Z'), hz: 12.5, samples: still(750) }));
    expect(ms.ok && ms.readings).toEqual([{ collarId: 'C1', ts: Date.parse('2026-11-25T10:15:00Z'), intervalS: 60, activity: 0 }]);
  });

  it.each([
    ['a missing time', body({ ts: undefined }), /^ts: required/],
    ['epoch seconds', body({ ts: 1795600000 }), /^ts: looks like epoch seconds/],
    ['a missing rate', body({ hz: undefined }), /^hz: /],
    ['a rate under 1 Hz', body({ hz: 0.5 }), /^hz: /],
    ['a rate over 200 Hz', body({ hz: 400 }), /^hz: /],
    ['a string rate', body({ hz: '10' }), /^hz: /],
    ['samples that are not an array', body({ samples: { x: 1 } }), /^samples: /],
    ['no samples', body({ samples: [] }), /^samples: must hold at least one/],
    ['too many samples', body({ hz: 200, samples: Array.from({ length: MAX_ACCEL_SAMPLES + 1 }, () => 0) }), /^samples: at most 100000 samples/],
    ['a pair instead of a triple', body({ samples: [...still(600), [0, 1], ...still(599)] }), /^samples\[600\]: must be \[x, y, z\] in g$/],
    ['an object instead of a triple', body({ samples: [{ x: 0, y: 0, z: 1 }, ...still(1199)] }), /^samples\[0\]: must be \[x, y, z\]/],
    ['a string value', body({ samples: [...still(5), [0, '0', 1], ...still(1194)] }), /^samples\[5\]\[1\]: must be a finite number$/],
    ['a null value (what some encoders make of NaN)', body({ samples: [...still(9), [null, 0, 1], ...still(1190)] }), /^samples\[9\]\[0\]: must be a finite number$/],
    ['a value beyond ±16 g', body({ samples: [...still(1199), [0, 0, -16.5]] }), /^samples\[1199\]\[2\]: -16.5 g is outside ±16 g$/],
    ['a capture shorter than a minute', body({ samples: still(599) }), /^599 samples at 10 Hz last 59.9 s; a capture needs at least 60 s$/],
    ['a capture that runs past 2100', body({ ts: Date.UTC(2099, 11, 31, 23, 59), samples: still(1200) }), /ends after the year 2100/],
    ['a collarId that differs from the topic', body({ collarId: 'C2' }), /collarId "C2" does not match the topic's "C1"/],
    ['a JSON array', [[0, 0, 1]], /^accel payload must be a JSON object/],
  ])('refuses the whole capture with %s', (_name, b, reason) => {
    const r = accel(b);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it.each([
    ['Infinity, which JSON.parse makes of 1e999', '[0, 1e999, 1]', /^samples\[0\]\[1\]: must be a finite number$/],
    ['NaN, which JSON does not have', '[NaN, 0, 1]', /^invalid JSON/],
  ])('refuses %s', (_name, first, reason) => {
    const r = accel(`{"ts": 1795600000000, "hz": 1, "samples": [${first}${', [0, 0, 1]'.repeat(60)}]}`);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it('holds a payload to the same size limit as readings', () => {
    const r = accel(JSON.stringify(body({ hz: 100, samples: Array.from({ length: 40_000 }, () => [0.123, -0.456, 0.987]) })));
    expect(!r.ok && r.reason).toMatch(new RegExp(`over the ${MAX_PAYLOAD_BYTES}-byte limit`));
  });

  it('still treats other topics as outside the contract', () => {
    expect(parse(body(), 'farm/f1/collar/C1/accelerometer')).toEqual({ ok: false, reason: expect.stringMatching(/^topic is not/) });
  });
});

describe('the fast path for ordinary readings', () => {
  it('takes exactly what the schema takes, with the same result, on random input (fast-check)', async () => {
    const fc = (await import('fast-check')).default;
    const { toReading, toReadingBySchema } = await import('../agent/ingest/payload.js');
    const num = fc.oneof(fc.double(), fc.integer({ min: -300, max: 8000 }), fc.constantFrom(0, -0, 60, 7200, 7201, 45, 30, 100, -200, 50, 1e12, 2 ** 53, NaN, Infinity), fc.constantFrom('5', null, true, [], {}));
    const ts = fc.oneof(
      fc.integer({ min: 9e11, max: 4.2e12 }),
      fc.integer({ min: 1e12, max: 4.1e12 }).map((t) => new Date(t).toISOString()),
      fc.constantFrom('2026-11-20T08:00:00Z', '2026-11-20T08:00+01:00', '2026-11-20 08:00:00Z', '2026-02-30T08:00:00Z', '2101-01-01T00:00:00Z', 1.5e12 + 0.5, null),
    );
    const item = fc.oneof(
      fc.record({ ts, activity: num, intervalS: num, rumination: num, eating: num, lying: num, temperature: num, batteryPct: num, rssi: num, seq: num, collarId: fc.constantFrom('C1', 'C2', 7) }, { requiredKeys: [] }),
      fc.anything(),
    );
    fc.assert(fc.property(item, (x) => {
      expect(toReading(x, 'C1')).toEqual(toReadingBySchema(x, 'C1'));
    }), { numRuns: 5000, seed: 11 });
  });
});
