import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { publishHerd, simulateHerd, type HerdSimulation } from '../collar-sim/index.js';
import { eventually, memoryLogger, memoryStream, startBroker, tempDir, testConfig, simEnd, type TestBroker } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface Farm {
  agent: Agent;
  sim: HerdSimulation;
  url: string;
  brokerUrl: string;
  stop(): Promise<void>;
}

/**
 * An agent on a real in-process broker with a simulated herd's history published to it, for the farm
 * page's tests: enough days for every cow to be judged, the default episodes (heats, an illness, a silent
 * collar, a battery running down to the end of the run, so one alert is still open).
 */
export async function startFarm(o: { cows?: number; days?: number; seed?: number } = {}): Promise<Farm> {
  const broker: TestBroker = await startBroker('aedes');
  const tmp = tempDir();
  // Readings end an hour before now, so the agent's "stamped in the future" guard never trips.
  const end = simEnd();
  const days = o.days ?? 16;
  const sim = simulateHerd({ farmId: 'testfarm', cows: o.cows ?? 8, startMs: end - days * DAY, days, seed: o.seed ?? 3, episodes: 'default' });
  const agent = new Agent(
    testConfig(broker.url, join(tmp.dir, 'farm.db'), { farm: { id: 'testfarm', name: 'Test farm', timezone: 'Europe/Zurich' }, notify: { groupWaitS: 0 } }),
    { logger: memoryLogger().logger, consoleOut: memoryStream().stream },
  );
  try {
    await agent.start();
    let total = 0;
    for (const _ of sim.readings()) total++;
    await publishHerd({ url: broker.url, farmId: 'testfarm', sim, speed: 1e12 });
    await eventually(() => agent.pipeline.counters.readings === total, 60_000, `${total} readings`);
  } catch (err) {
    await agent.stop();
    await broker.close();
    tmp.cleanup();
    throw err;
  }
  return {
    agent,
    sim,
    url: `http://127.0.0.1:${agent.httpPort}`,
    brokerUrl: broker.url,
    stop: async () => {
      await agent.stop();
      await broker.close();
      tmp.cleanup();
    },
  };
}
