/**
 * What every `airmail` subcommand shares on its command line: flags parsed strictly, an unknown
 * flag refused with the nearest known one, and Node's process warnings turned into one line of
 * the command's own output instead of Node's "(node:PID) Warning ... --trace-warnings" text.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from './config/validators.js';

/** A command line that cannot work as given: exit status 2. */
export class UsageError extends Error {
  /** `showUsage`: follow the message with the command's usage (an unknown flag, a missing argument). */
  constructor(message: string, readonly showUsage = false) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs, strict, with its errors as UsageErrors a user can act on: `unknown option '--prot'
 * (did you mean --port?)`, and extra positionals refused unless `positionals` says how many.
 */
export function parseFlags<O extends Options>(args: readonly string[], options: O, positionals = 0): { values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values']; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    const msg = (err as Error).message;
    const unknown = /^Unknown option '(-{1,2}[^']*)'/.exec(msg)?.[1];
    if (unknown !== undefined) {
      const name = unknown.replace(/^-+/, '').split('=')[0]!;
      // A known flag it begins (--deadline: --deadline-ms), else the nearest by edits.
      const starting = Object.keys(options).filter((o) => name.length >= 3 && o.startsWith(name));
      const near = starting.length === 1 ? starting[0] : closest(name, Object.keys(options));
      throw new UsageError(`unknown option '${unknown}'${near ? ` (did you mean --${near}?)` : ''}`, true);
    }
    // "Option '--input <value>' argument missing" and the like: Node's sentence, without its advice on '--'.
    throw new UsageError(msg.replace(/\. To specify a positional argument.*$/s, ''), true);
  }
  const extra = parsed.positionals.slice(positionals);
  if (extra.length > 0) throw new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => `'${a}'`).join(' ')}`, true);
  return { values: parsed.values, positionals: parsed.positionals };
}

/**
 * Node prints a process warning as "(node:PID) [CODE] Warning: ... (Use `node --trace-warnings ...`)":
 * noise for an operator. Every warning goes to `sink` instead (one line each, its code kept);
 * returns a function that changes the sink (serve points it at its JSON log once it has one).
 */
export function routeWarnings(sink: (message: string, code: string | undefined) => void): (next: (message: string, code: string | undefined) => void) => void {
  let current = sink;
  // Node's own printer is the 'warning' listener it adds at startup: replaced, not doubled.
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: unknown }) => current(w.message, typeof w.code === 'string' ? w.code : w.name !== 'Warning' ? w.name : undefined));
  return (next) => {
    current = next;
  };
}
