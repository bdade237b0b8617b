import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import { renderMetrics } from '../agent/http/metrics.js';
import { eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig } from './helpers.js';

describe('/metrics', () => {
  it('escapes label values as the Prometheus text format wants', () => {
    expect(renderMetrics([{ name: 'x_total', help: 'a\nb', type: 'counter', samples: [{ labels: { reason: 'say "no"\\ok\n' }, value: 2 }, { value: NaN }] }])).toBe(
      '# HELP x_total a\\nb\n# TYPE x_total counter\nx_total{reason="say \\"no\\"\\\\ok\\n"} 2\nx_total NaN\n',
    );
  });

  it('shows readings by outcome, the broker, collars, outbox and database to a scraper', async () => {
    const broker = await startBroker('aedes');
    const tmp = tempDir();
    const agent = new Agent(testConfig(broker.url, join(tmp.dir, 'm.db')), { logger: memoryLogger().logger, consoleOut: memoryStream().stream });
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'metrics-pub' });
    try {
      await agent.start();
      await eventually(() => agent.mqtt.subscribed, 10_000, 'subscribed');
      const ts = Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;
      await pub.publishAsync('farm/testfarm/collar/C1/reading', JSON.stringify({ ts, activity: 100 }), { qos: 1 });
      await pub.publishAsync('farm/testfarm/collar/C1/reading', JSON.stringify({ ts, activity: 100 }), { qos: 1 });
      await pub.publishAsync('farm/testfarm/collar/C1/reading', '{not json', { qos: 1 });
      await eventually(() => agent.pipeline.counters.messages === 3, 10_000, 'three messages');
      const res = await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"=]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('cowbell_messages_received_total')).toBe(3);
      expect(value('cowbell_readings_total{outcome="accepted"}')).toBe(1);
      expect(value('cowbell_readings_total{outcome="duplicate"}')).toBe(1);
      expect(value('cowbell_readings_total{outcome="quarantined"}')).toBe(1);
      expect(value('cowbell_broker_connected')).toBe(1);
      expect(value('cowbell_collars')).toBe(1);
      expect(value('cowbell_collars_heard_last_hour')).toBe(1);
      expect(value('cowbell_outbox_oldest_pending_age_seconds')).toBe(0);
      expect(value('cowbell_sqlite_bytes')).toBeGreaterThan(0);
      expect(value('cowbell_event_loop_lag_seconds{stat="p99"}')).toBeGreaterThanOrEqual(0);
      expect(text).toMatch(/^# TYPE cowbell_readings_total counter$/m);
    } finally {
      await pub.endAsync();
      await agent.stop();
      await broker.close();
      tmp.cleanup();
    }
  });
});
