#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { publishHerd, simulateHerd, truthToJson } from '../collar-sim/index.js';
import { DAY_MS, DEFAULT_RULES, resolveRules } from '../rules/index.js';
import { Agent } from './agent.js';
import { checkFarms, FarmHost } from './farms.js';
import { startDemo } from './demo.js';
import { acrossDst, csvSources, everyCollar, formatScore, scoreIceTag, scoreReal, scoreScenario, type ScenarioOptions } from './eval.js';
import { loadConfigFile, LOG_LEVELS, type AgentConfig } from './config.js';
import { ConfigError, CowbellError } from './errors.js';
import { exportHerd, importHerd } from './herd/import.js';
import { preflight } from './preflight.js';
import { runDoctor } from './doctor.js';
import { redactUrl } from './log.js';
import { alertTopic } from './wire.js';
import { languages } from './notify/render.js';
import { parseOptions } from './cli-options.js';


const HELP: Record<string, string> = {
  main: `cowbell — edge agent for livestock alerts

Usage: cowbell <command> [options]

Commands:
  start    the demo, or the agent when given --config FILE (what "npm start" runs)
  demo     embedded broker + simulated herd + agent + WhatsApp and Telegram stand-ins; what each phone
           shows in the console, and the farm page on http://127.0.0.1:8080/
  agent    run the agent against the broker named in a config file
  check    validate a config file and print what the agent would use
  doctor   try what the running agent depends on: broker, database, disk, chat credentials, clock
  sim      publish a simulated herd's readings to a broker
  eval     the detection scorecard: seeded herds and real exports replayed offline
  herd     the herd register: import a CSV of cows and their collars, or export it

Run "cowbell <command> --help" for a command's options.`,
  demo: `cowbell demo — everything on this machine, nothing to configure

Starts an MQTT broker on 127.0.0.1:1883 (another port if that is taken), simulates a herd with a few weeks
of history at one day per second (then real time), and runs the agent. Alerts go to Anna on WhatsApp and
Hans on Telegram, through local stand-ins of both APIs that print what each phone shows; type "a" + Enter
to tap Acknowledge on Anna's latest message. The farm page and API answer on http://127.0.0.1:8080/
(another port if taken).

Options:
  --cows N       herd size (default 12)
  --days N       days of history to simulate before now (default 21)
  --speed X      simulated seconds per real second while catching up (default 86400: a day a second)
  --seed N       simulator seed (default 1)
  --port N       HTTP port (default 8080)
  -h, --help`,
  agent: `cowbell agent — run against a real broker

Options:
  -c, --config FILE   the config file (JSON, or YAML for comments; see README "Config file"); given
                      more than once, one process serves several farms, each with its own database,
                      MQTT session and farm page (no two may share a farm id, store.path, mqtt.clientId,
                      LoRaWAN application, Telegram bot, WhatsApp number or http.port)
  --log-level LEVEL   overrides log.level: fatal, error, warn, info, debug, trace or silent
  -h, --help`,
  check: `cowbell check — validate a config file

Options:
  -c, --config FILE   the config file to check; more than once, as for several farms in one agent
                      (also checks what the farms must not share)
  -h, --help`,
  doctor: `cowbell doctor — try, on the gateway, what the running agent depends on

Loads the config as "check" does, then connects to the broker and subscribes to the farm's topic (as its
own throwaway client: the agent's session is left alone), reads Mosquitto's queue settings when the broker
is on this box, opens the database read-only (schema, quick_check), looks at the free disk space, asks the
chat APIs who the credentials belong to (sends nothing) and compares the clock with theirs. One line per
check: ok, warn, or FAIL with what to fix. Exits 1 when any check failed. Run it as the agent's user
(sudo -u cowbell …) so the database and secret files are read as the agent reads them.

Options:
  -c, --config FILE         the config file
  --mosquitto-conf FILE     Mosquitto's main config (default /etc/mosquitto/mosquitto.conf)
  -h, --help`,
  eval: `cowbell eval — detection scorecard, offline (no broker)

Replays seeded herds (collar-sim's varied herd: cycles, silent heats, illnesses, lameness, calving, a cow
down, herd-wide events, collar faults, late and duplicated delivery) through the rules core in the order a
gateway receives them, and scores every alert type against the ground truth: sensitivity, PPV, false
alerts per 100 cow-days, delay from onset (median, p90) to the data the alert is about and to when the
farmer is told (after the 15-minute hold for reordering and any wait for the herd), false alerts raised by
herd-wide events. An alert matches an episode of the same cow and type when raised between its start and its end + 12 h. The first
seed runs again on a farm in Europe/Berlin, across the clocks going back on 25 October 2026, on a farm whose
collars all report hourly, and with cows as noisy as real ones (--real-noise, below).
Then replays real exports (the IceTag files and any CSV with collarId,ts,activity[,intervalS,rumination,
lying,batteryPct] columns) and reports alerts per cow-month.

Options:
  --seeds 11,12   seeds (default 11,12,13)
  --cows N        herd size (default 200)
  --days N        days (default 90)
  --data DIR      real exports (default ../shared/data: its icetag/ and *.csv)
  --rules JSON    rule overrides, as in a config file's "rules"
  --no-register   a farm without a herd register: calving and insemination dates unknown to the detector
  --due-at-illness
                  a stress test: every cow that falls ill (and does not calve) is in the register as due
                  to calve at her illness, to show what the due cow's calving sign costs
  --real-noise    every herd's cows as noisy as real ones (lying bouts, days that differ by some 15 %;
                  bench/realism.ts measures them beside the IceTag cows); without it, only the first
                  seed's last run is
  --json          print JSON instead of tables
  -h, --help`,
  herd: `cowbell herd — the herd register

Usage: cowbell herd import FILE -c CONFIG     (FILE "-" reads standard input)
       cowbell herd export [-o FILE] -c CONFIG

The CSV has a heading row and one cow per row; commas, semicolons or tabs:
  cow,name,collar,group,calved,inseminated,notes
  412,Bella,70B3D57ED0001A2B,dry,2026-03-14,,
"cow" (her number) is required. "collar" is the collar id or DevEUI she wears (empty: none). Dates are
2026-03-14 or 14.03.2026. The file speaks for the cows it lists; others are left as they are. A collar
that ran unassigned keeps what it learned when it is given to its cow; a collar moved from one cow to
another starts learning afresh, and the cow it left is forgotten by the detector. Import goes through the
running agent when it answers on its http port, else straight into the database.

Options:
  -c, --config FILE   the agent's config file
  -o, --output FILE   export to FILE instead of standard output
  -h, --help`,
  sim: `cowbell sim — publish a simulated herd

Options:
  --url URL       broker (default mqtt://127.0.0.1:1883)
  --farm ID       farm id in the topics (default demo)
  --cows N        herd size (default 20)
  --days N        days to simulate (default 30)
  --start ISO     first reading time (default: --days before now)
  --speed X       simulated seconds per real second (default 86400), never ahead of the wall clock; it
                  stops at the end of --days (by default, now)
  --seed N        seed (default 1); the same seed gives the same herd and episodes
  --truth FILE    write the ground truth (injected episodes) here
  --batch N       readings per MQTT message, one collar each (default 1, as live collars send)
  --username U, --password P
  -h, --help`,
};

function args<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  return parseOptions(argv, options).values;
}

function num(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new CowbellError('COWBELL_USAGE', `--${name} must be a non-negative number, got "${value}"`);
  return n;
}

function onSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(130);
    stopping = true;
    // For a person at a terminal; under systemd stderr is the JSON log, which says "cowbell agent stopped".
    if (process.stderr.isTTY) process.stderr.write('\nstopping…\n');
    void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function runAgent(argv: string[]): Promise<void> {
  const o = args(argv, { config: { type: 'string', short: 'c', multiple: true }, 'log-level': { type: 'string' } });
  if (o.help) return void console.log(HELP.agent);
  if (!o.config?.length) throw new CowbellError('COWBELL_USAGE', 'cowbell agent needs --config FILE (see cowbell agent --help)');
  const configs = o.config.map((file) => loadConfigFile(file));
  const level = o['log-level'];
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level as (typeof LOG_LEVELS)[number])) throw new CowbellError('COWBELL_USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
    for (const c of configs) c.log.level = level as (typeof LOG_LEVELS)[number];
  }
  // One farm as always; several, each with its own database, session and page, in one process.
  const agent = configs.length === 1 ? new Agent(configs[0]!) : new FarmHost(configs, { files: o.config });
  onSignal(() => agent.stop());
  await agent.start();
}

/** The one --config a command works on: given more than once, it says so rather than taking the last. */
function oneConfig(files: string[] | undefined, command: string): string {
  if (!files?.length) throw new CowbellError('COWBELL_USAGE', `cowbell ${command} needs --config FILE`);
  if (files.length > 1) throw new CowbellError('COWBELL_USAGE', `cowbell ${command} takes one --config FILE: run it once per farm`);
  return files[0]!;
}

async function runCheck(argv: string[]): Promise<void> {
  const o = args(argv, { config: { type: 'string', short: 'c', multiple: true } });
  if (o.help) return void console.log(HELP.check);
  if (!o.config?.length) throw new CowbellError('COWBELL_USAGE', 'cowbell check needs --config FILE');
  const configs = o.config.map((file) => loadConfigFile(file));
  // Several farms for one process: first what they must not share, then each on its own.
  if (configs.length > 1) checkFarms(configs, o.config);
  for (const [i, c] of configs.entries()) await checkOne(o.config[i]!, c);
  if (configs.length > 1) console.log(`${configs.length} farms for one process: no farm id, database, MQTT client id, LoRaWAN application, bot, number or port shared`);
}

async function checkOne(file: string, c: AgentConfig): Promise<void> {
  const issues = await preflight(c);
  if (issues.length) throw new ConfigError(`${file} is valid, but the agent would not start here`, issues);
  console.log(`config OK: farm ${c.farm.id} (${c.farm.timezone}), broker ${redactUrl(c.mqtt.url)} as ${c.mqtt.clientId}`);
  console.log(`store ${c.store.path} (readings kept ${c.store.retentionDays} days), http ${c.http.host}:${c.http.port}`);
  // A language with no catalogue reads English (notify/render.ts): said here, where a typo is still cheap to fix.
  const known = languages();
  const language = (l: string) => (known.includes(l) ? l : `${l} — no catalogue, reads English: catalogues are ${known.join(', ')}`);
  console.log(`people: ${c.recipients.map((r) => `${r.name} (${r.channel}, ${language(r.language)})`).join(", ")}; feeds: mqtt on ${alertTopic(c.farm.id, '{type}')}${c.channels.webhooks.map((w) => `, webhook ${w.name}`).join("")}`);
  const wa = c.channels.whatsapp;
  if (wa) console.log(`whatsapp: sends as phone number id ${wa.phoneNumberId} (${wa.apiVersion}); farmers' buttons and replies ${wa.appSecret && wa.verifyToken ? 'on (Meta must reach /webhooks/whatsapp)' : 'OFF: set appSecret and verifyToken'}`);
  const tg = c.channels.telegram;
  if (tg) console.log(`telegram: ${tg.mode === 'polling' ? 'buttons and replies by long polling (no public address needed)' : tg.mode === 'webhook' ? `buttons and replies by webhook${tg.webhookUrl ? ` at ${tg.webhookUrl}` : ' (webhookUrl not set: register it yourself)'}` : 'send only'}`);
  const changed = Object.keys(c.rules).filter((k) => JSON.stringify(c.rules[k as keyof typeof c.rules]) !== JSON.stringify(DEFAULT_RULES[k as keyof typeof DEFAULT_RULES]));
  console.log(`rules: ${changed.length ? `defaults, with ${changed.map((k) => `${k} ${JSON.stringify(c.rules[k as keyof typeof c.rules])}`).join('; ')}` : 'the defaults (rules/default-rules.json)'}`);
}

async function runDoctorCommand(argv: string[]): Promise<void> {
  const o = args(argv, { config: { type: 'string', short: 'c', multiple: true }, 'mosquitto-conf': { type: 'string' } });
  if (o.help) return void console.log(HELP.doctor);
  process.exitCode = await runDoctor(oneConfig(o.config, 'doctor'), { ...(o['mosquitto-conf'] !== undefined && { mosquittoConf: o['mosquitto-conf'] }) }, (line) => console.log(line));
}

async function runHerd(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values: o, positionals: [file] } = parseOptions(rest, { config: { type: 'string', short: 'c', multiple: true }, output: { type: 'string', short: 'o' } }, true);
  if (o.help || verb === undefined || verb === '-h' || verb === '--help') return void console.log(HELP.herd);
  const config = loadConfigFile(oneConfig(o.config, `herd ${verb}`));
  if (verb === 'export') {
    const csv = exportHerd(config);
    return o.output ? writeFileSync(o.output, csv) : void process.stdout.write(csv);
  }
  if (verb !== 'import') throw new CowbellError('COWBELL_USAGE', `cowbell herd: "import" or "export", not "${verb}"`);
  if (!file) throw new CowbellError('COWBELL_USAGE', 'cowbell herd import needs a FILE (or - for standard input)');
  let csv: string;
  try {
    csv = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CowbellError('COWBELL_USAGE', `cannot read ${file}: ${(err as Error).message}`);
  }
  const { via, result } = await importHerd(config, csv);
  console.log(`${result.cows} ${result.cows === 1 ? 'cow' : 'cows'} in the file, ${result.updated} new or changed (${via === 'agent' ? 'through the running agent' : 'into the database; the agent was not running'})`);
  for (const line of result.collarChanges) console.log(`  ${line}`);
  for (const line of result.retired) console.log(`  forgotten by the detector: cow ${line}`);
}

async function runDemo(argv: string[]): Promise<void> {
  const o = args(argv, {
    cows: { type: 'string' }, days: { type: 'string' }, speed: { type: 'string' }, seed: { type: 'string' }, port: { type: 'string' },
  });
  if (o.help) return void console.log(HELP.demo);
  const demo = await startDemo({
    cows: num(o.cows, 12, 'cows'),
    days: num(o.days, 21, 'days'),
    speed: num(o.speed, 86_400, 'speed'),
    seed: num(o.seed, 1, 'seed'),
    port: num(o.port, 8080, 'port'),
  });
  onSignal(() => demo.stop());
  await demo.caughtUp;
}

async function runSim(argv: string[]): Promise<void> {
  const o = args(argv, {
    url: { type: 'string' }, farm: { type: 'string' }, cows: { type: 'string' }, days: { type: 'string' }, start: { type: 'string' },
    speed: { type: 'string' }, seed: { type: 'string' }, truth: { type: 'string' }, batch: { type: 'string' },
    username: { type: 'string' }, password: { type: 'string' },
  });
  if (o.help) return void console.log(HELP.sim);
  const days = num(o.days, 30, 'days');
  const startMs = o.start ? Date.parse(o.start) : Math.floor((Date.now() - days * DAY_MS) / 900_000) * 900_000;
  if (Number.isNaN(startMs)) throw new CowbellError('COWBELL_USAGE', `--start must be an ISO-8601 time, got "${o.start}"`);
  const farmId = o.farm ?? 'demo';
  const sim = simulateHerd({ farmId, cows: num(o.cows, 20, 'cows'), startMs, days, seed: num(o.seed, 1, 'seed'), episodes: 'default' });
  if (o.truth) writeFileSync(o.truth, JSON.stringify(truthToJson(sim), null, 2));
  const url = o.url ?? 'mqtt://127.0.0.1:1883';
  const abort = new AbortController();
  onSignal(async () => abort.abort());
  console.error(`publishing ${sim.cows.length} cows × ${days} days to ${redactUrl(url)} (farm ${farmId})`);
  const stats = await publishHerd({
    url, farmId, sim, speed: num(o.speed, 86_400, 'speed'), catchUpToWallClock: true, signal: abort.signal,
    batchPerMessage: num(o.batch, 1, 'batch'),
    ...(o.username !== undefined && { username: o.username }),
    ...(o.password !== undefined && { password: o.password }),
  });
  console.error(`published ${stats.published} readings in ${stats.messages} messages in ${((stats.endedAt - stats.startedAt) / 1000).toFixed(1)} s`);
}

async function runEval(argv: string[]): Promise<void> {
  const o = args(argv, { seeds: { type: 'string' }, cows: { type: 'string' }, days: { type: 'string' }, data: { type: 'string' }, rules: { type: 'string' }, json: { type: 'boolean' }, 'no-register': { type: 'boolean' }, 'due-at-illness': { type: 'boolean' }, 'real-noise': { type: 'boolean' } });
  if (o.help) return void console.log(HELP.eval);
  let rules;
  try {
    rules = resolveRules(o.rules ? JSON.parse(o.rules) : {});
  } catch (err) {
    throw new CowbellError('COWBELL_USAGE', `--rules: ${(err as Error).message}`);
  }
  const seeds = (o.seeds ?? '11,12,13').split(',').map((x) => num(x, 0, 'seeds'));
  const cows = num(o.cows, 200, 'cows');
  const days = num(o.days, 90, 'days');
  const register = !o['no-register'];
  const dueAtIllness = o['due-at-illness'] === true;
  const realNoise = o['real-noise'] === true;
  if (dueAtIllness && !register) throw new CowbellError('COWBELL_USAGE', '--due-at-illness puts due dates in the herd register: it cannot go with --no-register');
  // Besides the seeds: the first on a farm across a daylight-saving change, and on a farm whose collars all
  // report every hour (one model bought for the whole herd: its hours are told more slowly than a mix's).
  const scenarios = [
    ...seeds.map((seed): ScenarioOptions => ({ seed, cows, days, register, dueAtIllness, realNoise })),
    { ...acrossDst({ seed: seeds[0]!, cows, days }), register, dueAtIllness, realNoise },
    { seed: seeds[0]!, cows, days, register, dueAtIllness, realNoise, intervalS: 3600 },
    // And the first seed's cows as noisy as real ones, so the scorecard always says how far the steadier
    // default herds flatter the rules (docs/figures.md, "Cows as noisy as real ones").
    ...(realNoise ? [] : [{ seed: seeds[0]!, cows, days, register, dueAtIllness, realNoise: true }]),
  ].map((s) => {
    if (!o.json) process.stderr.write(`seed ${s.seed}${s.timezone ? ` (${s.timezone})` : ''}${everyCollar(s.intervalS)}${s.realNoise ? ' (cows as noisy as real ones)' : ''}…\n`);
    return scoreScenario(rules, s);
  });
  const dataDir = resolve(o.data ?? '../shared/data');
  const real = [];
  const iceTag = scoreIceTag(rules, join(dataDir, 'icetag'));
  if (iceTag) real.push(iceTag.all);
  for (const src of csvSources(dataDir)) real.push(scoreReal(rules, src.name, src.readings));
  if (o.json) return void console.log(JSON.stringify({ matching: 'an alert matches an episode of the same cow and type raised in [start, end + 12 h]', scenarios, real }, null, 2));
  for (const s of scenarios) console.log(`${formatScore(s)}\n`);
  for (const r of real) {
    const per = Object.entries(r.perCowMonth).map(([t, v]) => `${t} ${r.alerts[t]} (${v}/cow-month)`).join(', ') || 'no alerts';
    console.log(`real: ${r.source}, ${r.cowMonths} cow-months: ${per}`);
  }
  if (!real.length) console.log(`real: no exports found in ${dataDir} (its icetag/ and *.csv); pass --data DIR to score some`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    // `npm start`: the demo, or with --config the real agent, so one command serves both.
    case 'start': return rest.some((a) => a === '--config' || a === '-c' || a.startsWith('--config=')) ? runAgent(rest) : runDemo(rest);
    case 'demo': return runDemo(rest);
    case 'agent': return runAgent(rest);
    case 'check': return runCheck(rest);
    case 'doctor': return runDoctorCommand(rest);
    case 'sim': return runSim(rest);
    case 'eval': return runEval(rest);
    case 'herd': return runHerd(rest);
    case undefined: case '-h': case '--help': case 'help': return void console.log(HELP.main);
    default: throw new CowbellError('COWBELL_USAGE', `unknown command "${command}"\n\n${HELP.main}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  console.error(e instanceof CowbellError ? `cowbell: ${e.message} [${e.code}]` : `cowbell: ${e.stack ?? e.message}`);
  process.exit(e instanceof CowbellError ? 2 : 1);
});
