/**
 * Command-line options of the load-test scripts: `--help` prints what each
 * takes, and a mistyped flag or a value that is not a number is one line on
 * stderr and exit 2, before any load starts. node's parseArgs alone answered
 * `--help` with a stack trace, and `--duration 5s` ran a NaN-second test.
 */
import { parseArgs } from 'node:util';

export interface CliOption {
  readonly type: 'string' | 'boolean';
  /** One line for `--help`. */
  readonly help: string;
  readonly default?: string;
  /** The value's name in `--help` (default: N for numbers, VALUE otherwise). */
  readonly value?: string;
  /** The value must be a number (`list`: comma-separated numbers), at least `min`, at most `max`, whole if `integer`. */
  readonly number?: { readonly min?: number; readonly max?: number; readonly integer?: boolean; readonly list?: boolean };
  readonly choices?: readonly string[];
}

export type CliOptions = Readonly<Record<string, CliOption>>;
type ValueOf<T extends CliOption> = T['type'] extends 'boolean' ? boolean : T extends { readonly default: string } ? string : string | undefined;
export type CliValues<O extends CliOptions> = { -readonly [K in keyof O]: ValueOf<O[K]> };

export type CliParse<O extends CliOptions> =
  | { readonly ok: true; readonly values: CliValues<O> }
  | { readonly ok: false; readonly exitCode: 0 | 2; readonly text: string };

export function usage(command: string, summary: string, options: CliOptions): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = o.type === 'boolean' ? `--${name}` : `--${name} ${o.value ?? (o.number ? (o.number.list ? 'N,N,...' : 'N') : o.choices ? o.choices.join('|') : 'VALUE')}`;
    return [flag, `${o.help}${o.default !== undefined && o.default !== '' ? ` (default ${o.default})` : ''}`] as const;
  });
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [`usage: ${command} [options]`, summary, '', ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`), ''].join('\n');
}

function checkValue(name: string, o: CliOption, raw: string): string | undefined {
  if (o.choices && !o.choices.includes(raw)) return `--${name} must be one of ${o.choices.join(', ')}, not '${raw}'`;
  if (!o.number) return undefined;
  const parts = o.number.list ? raw.split(',') : [raw];
  for (const part of parts) {
    const n = part.trim() === '' ? NaN : Number(part);
    const what = o.number.list ? `${o.number.integer ? 'whole numbers' : 'numbers'} separated by commas` : o.number.integer ? 'a whole number' : 'a number';
    if (!Number.isFinite(n) || (o.number.integer && !Number.isInteger(n))) return `--${name} must be ${what}, not '${raw}'`;
    if (o.number.min !== undefined && n < o.number.min) return `--${name} must be at least ${o.number.min}, not '${raw}'`;
    if (o.number.max !== undefined && n > o.number.max) return `--${name} must be at most ${o.number.max}, not '${raw}'`;
  }
  return undefined;
}

/**
 * `--duration -1` as `--duration=-1`: parseArgs takes a value that starts with '-' for a flag and
 * answered "argument is ambiguous"; joined, the value gets the same check as any other number.
 */
function joinNegativeValues(argv: readonly string[], options: CliOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const o = a.startsWith('--') ? options[a.slice(2)] : undefined;
    const next = argv[i + 1];
    if (o?.type === 'string' && o.number && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parse `argv` against `options`: the values, or the text to print and the exit code (0 for --help). */
export function parseCli<O extends CliOptions>(command: string, summary: string, options: O, argv: readonly string[]): CliParse<O> {
  const help = (): string => usage(command, summary, options);
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(options)) spec[name] = { type: o.type, ...(o.default !== undefined ? { default: o.default } : {}) };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: joinNegativeValues(argv, options), options: spec, strict: true, allowPositionals: false }));
  } catch (err) {
    return { ok: false, exitCode: 2, text: `${command}: ${(err as Error).message.split('\n')[0]}\nrun with --help for the options\n` };
  }
  if (values['help']) return { ok: false, exitCode: 0, text: help() };
  for (const [name, o] of Object.entries(options)) {
    const raw = values[name];
    if (typeof raw !== 'string') continue;
    const problem = checkValue(name, o, raw);
    if (problem) return { ok: false, exitCode: 2, text: `${command}: ${problem}\nrun with --help for the options\n` };
  }
  delete values['help'];
  for (const [name, o] of Object.entries(options)) if (o.type === 'boolean') values[name] = values[name] === true;
  return { ok: true, values: values as CliValues<O> };
}

/** parseCli on this process's arguments; prints and exits where it does not give values. */
export function cli<O extends CliOptions>(command: string, summary: string, options: O, argv: readonly string[] = process.argv.slice(2)): CliValues<O> {
  const r = parseCli(command, summary, options, argv);
  if (r.ok) return r.values;
  (r.exitCode === 0 ? process.stdout : process.stderr).write(r.text);
  process.exit(r.exitCode);
}
