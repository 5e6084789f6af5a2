/**
 * Structured logs: one JSON line per request (info) and per step (debug),
 * in the seed's words ("MatchDepartment(product_id=3) filtered 500 items to
 * 51 items in 31ms"), carrying trace id, pipeline, version and counts.
 * Human-readable when the stream is a terminal. The hot path builds one
 * string and writes it; nothing is buffered or shipped here.
 */
import type { StepRecord } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LogSink {
  write(line: string): unknown;
  readonly isTTY?: boolean;
}

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined | readonly string[]>>;

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly sink?: LogSink;
  /** Human-readable lines; default: when the sink is a terminal. */
  readonly pretty?: boolean;
}

export function parseLevel(v: string | undefined, fallback: LogLevel): LogLevel {
  const l = (v ?? '').toLowerCase();
  return l in RANK ? (l as LogLevel) : fallback;
}

export class Logger {
  readonly level: LogLevel;
  private readonly min: number;
  private readonly sink: LogSink;
  private readonly pretty: boolean;

  constructor(opts: LoggerOptions = {}) {
    this.level = opts.level ?? 'info';
    this.min = RANK[this.level];
    this.sink = opts.sink ?? stdoutSink();
    this.pretty = opts.pretty ?? this.sink.isTTY === true;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.min;
  }

  log(level: Exclude<LogLevel, 'silent'>, msg: string, fields: LogFields = {}): void {
    if (RANK[level] < this.min) return;
    this.sink.write(this.pretty ? prettyLine(level, msg, fields) : jsonLine(level, msg, fields));
  }

  /**
   * A line written whatever the level (silent included): the server's start and stop, which
   * supervisors and scripts wait for (the startup line says where it listens).
   */
  notice(level: Exclude<LogLevel, 'silent'>, msg: string, fields: LogFields = {}): void {
    this.sink.write(this.pretty ? prettyLine(level, msg, fields) : jsonLine(level, msg, fields));
  }

  /** Writes what is buffered now (before the process exits). */
  flush(): void {
    (this.sink as { flush?: () => void }).flush?.();
  }
}

/**
 * Lines are gathered and written once per event-loop turn (or at 64 KiB), so
 * a busy server makes one write per turn, not one per request; flushed on exit.
 */
export class BufferedSink implements LogSink {
  readonly isTTY: boolean;
  private buf = '';
  private scheduled = false;
  constructor(private readonly stream: { write(s: string): unknown; readonly isTTY?: boolean }) {
    this.isTTY = stream.isTTY === true;
  }
  write(line: string): void {
    this.buf += line;
    if (this.buf.length >= 65_536) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (this.buf === '') return;
    const b = this.buf;
    this.buf = '';
    this.stream.write(b);
  }
}

let stdout: BufferedSink | undefined;
function stdoutSink(): BufferedSink {
  if (!stdout) {
    const sink = new BufferedSink(process.stdout);
    process.once('exit', () => sink.flush());
    stdout = sink;
  }
  return stdout;
}

function jsonLine(level: string, msg: string, fields: LogFields): string {
  let s = `{"level":"${level}","time":"${new Date().toISOString()}","msg":${JSON.stringify(msg)}`;
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    s += `,"${k}":${typeof v === 'string' || typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
  }
  return `${s}}\n`;
}

const COLOR: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' };

function prettyLine(level: string, msg: string, fields: LogFields): string {
  const t = new Date().toISOString().slice(11, 23);
  const extra = Object.entries(fields)
    .filter(([k, v]) => v !== undefined && v !== null && k !== 'msg')
    .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${t} ${COLOR[level] ?? ''}${level.toUpperCase().padEnd(5)}\x1b[0m ${msg}${extra ? `  \x1b[90m${extra}\x1b[0m` : ''}\n`;
}

export function ms(v: number): string {
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`;
}

/** The seed's sentence for one step. */
export function stepMessage(r: StepRecord): string {
  const head = `${r.step}(${r.params ?? ''})`;
  if (r.failed) return `${head} failed in ${ms(r.ms)}: ${r.failed}`;
  if (r.phase === 'include' || r.phase === 'exclude') return `${head} returned ${r.rowsOut} items in ${ms(r.ms)}`;
  if (r.phase === 'score') return `${head} scored ${r.rowsIn} items in ${ms(r.ms)}`;
  if (r.kind === 'filter') return `${head} filtered ${r.rowsIn} items to ${r.rowsOut} items in ${ms(r.ms)}`;
  if (r.rowsIn === r.rowsOut) return `${head} kept ${r.rowsOut} items in ${ms(r.ms)}`;
  return `${head} reduced ${r.rowsIn} items to ${r.rowsOut} items in ${ms(r.ms)}`;
}
