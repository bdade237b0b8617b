import { describe, expect, it } from 'vitest';
import { parseOptions } from '../agent/cli-options.js';
import { CowbellError } from '../agent/errors.js';
import { closest } from '../agent/suggest.js';

const usage = (argv: string[], positionals = false) => {
  try {
    parseOptions(argv, { config: { type: 'string', short: 'c' }, cows: { type: 'string' }, json: { type: 'boolean' }, 'mosquitto-conf': { type: 'string' } }, positionals);
  } catch (err) {
    expect(err).toBeInstanceOf(CowbellError);
    expect((err as CowbellError).code).toBe('COWBELL_USAGE');
    return (err as Error).message;
  }
  return null;
};

// Found when tried as a new user would: `cowbell check --conf ok.json` printed Node's TypeError with ten stack
// frames and exited 1, where a technician needs to read which option was wrong (exit 2, a usage error).
describe('command-line options', () => {
  it('a mistyped option says what was probably meant', () => {
    expect(usage(['--conf', 'x.json'])).toBe('unknown option --conf (did you mean --config?); --help lists the options');
    expect(usage(['--cow', '30'])).toBe('unknown option --cow (did you mean --cows?); --help lists the options');
    expect(usage(['--mosquito-conf=x'])).toBe('unknown option --mosquito-conf (did you mean --mosquitto-conf?); --help lists the options');
    expect(usage(['--verbose'])).toBe('unknown option --verbose; --help lists the options');
    expect(usage(['-x'])).toBe('unknown option -x; --help lists the options');
  });

  it('an option missing its value, or given one it does not take, is a usage error too', () => {
    expect(usage(['--cows'])).toBe('option --cows needs a value; --help lists the options');
    expect(usage(['--json=yes'])).toBe("option '--json' does not take an argument; --help lists the options");
    expect(usage(['import.csv'])).toMatch(/^unexpected argument 'import\.csv'/);
    // Node calls this one ambiguous, with three lines of advice about dashes.
    expect(usage(['--cows', '--json'])).toBe('option --cows needs a value; --help lists the options');
  });

  it('reads good options, positionals where allowed, and --help', () => {
    const { values, positionals } = parseOptions(['-c', 'farm.yaml', 'herd.csv', '--help'], { config: { type: 'string', short: 'c' } }, true);
    expect(values).toEqual({ config: 'farm.yaml', help: true });
    expect(positionals).toEqual(['herd.csv']);
  });

  it('guesses only what is close', () => {
    expect(closest('timezome', ['id', 'timezone', 'name'])).toBe('timezone');
    expect(closest('conf', ['config', 'cows'])).toBe('config');
    expect(closest('chnanel', ['channel', 'address'])).toBe('channel');
    expect(closest('colour', ['farm', 'mqtt', 'store', 'rules'])).toBeUndefined();
    expect(closest('co', ['config', 'cows'])).toBeUndefined();
  });
});
