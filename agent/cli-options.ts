import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CowbellError } from './errors.js';
import { closest } from './suggest.js';

/**
 * A command's options, as node:util's parseArgs reads them (strict), with `--help`/`-h` added. A mistyped or
 * incomplete option is a usage error (exit code 2) that says what was wrong and what was probably meant,
 * not a stack trace from inside Node.
 */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  const all = { ...options, help: { type: 'boolean', short: 'h' } } as const;
  try {
    return parseArgs({ args: argv, options: all, strict: true, allowPositionals });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-{1,2}[^']*)'/.exec((err as Error).message)?.[1] : undefined;
    // Node's own wording, its first sentence (some run on over lines with advice on '--'), in lower case.
    const first = (err as Error).message.split('\n')[0]!.split('. ')[0]!.replace(/\.$/, '');
    // "argument missing", or "ambiguous" when the next word is another option: either way it needs a value.
    const valueless = /^Option '(-{1,2}[^' ]+)[^']*' argument (missing|is ambiguous)/.exec(first)?.[1];
    let message = unknown ? `unknown option ${unknown}` : valueless ? `option ${valueless} needs a value` : first.charAt(0).toLowerCase() + first.slice(1);
    const meant = unknown?.startsWith('--') ? closest(unknown.slice(2).split('=')[0]!, Object.keys(all)) : undefined;
    if (meant) message += ` (did you mean --${meant}?)`;
    throw new CowbellError('COWBELL_USAGE', `${message}; --help lists the options`);
  }
}
