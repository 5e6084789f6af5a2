/**
 * The load-test scripts' options. `npm run loadtest -- --help` (and every other script's --help)
 * used to end in an ERR_PARSE_ARGS_UNKNOWN_OPTION stack trace, and `--duration 5s` ran NaN seconds.
 * Each script's --help must list the flags the README tells a user to pass it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCli } from './args.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

const OPTS = {
  duration: { type: 'string', default: '10', number: { min: 1 }, help: 'seconds' },
  concurrency: { type: 'string', number: { min: 1, integer: true, list: true }, help: 'in flight' },
  client: { type: 'string', choices: ['raw', 'undici'], help: 'generator' },
  'no-pin': { type: 'boolean', help: 'share cores' },
} as const;

describe('parseCli', () => {
  it('gives typed values with defaults, and false for an absent boolean', () => {
    const r = parseCli('x', 'y', OPTS, ['--concurrency', '8,16', '--client', 'undici']);
    expect(r).toEqual({ ok: true, values: { duration: '10', concurrency: '8,16', client: 'undici', 'no-pin': false } });
  });

  it('--help and -h: the usage on exit 0, every option with its default', () => {
    for (const flag of ['--help', '-h']) {
      const r = parseCli('npx tsx x.ts', 'What x does.', OPTS, [flag]);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.exitCode).toBe(0);
      expect(r.text).toContain('usage: npx tsx x.ts [options]');
      expect(r.text).toMatch(/--duration N +seconds \(default 10\)/);
      expect(r.text).toContain('--client raw|undici');
      expect(r.text).toContain('--no-pin');
    }
  });

  it('an unknown flag, a value that is not a number, below its minimum, or not a choice: one line and exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['--durration', '5'], /Unknown option '--durration'/],
      [['--duration', '5s'], /--duration must be a number, not '5s'/],
      [['--duration', ''], /--duration must be a number/],
      [['--duration', '0'], /--duration must be at least 1/],
      // parseArgs read '-1' as a flag: "Option '--duration' argument is ambiguous".
      [['--duration', '-1'], /--duration must be at least 1, not '-1'/],
      [['--concurrency', '-8,16'], /--concurrency must be at least 1, not '-8,16'/],
      [['--concurrency', '8,x'], /--concurrency must be whole numbers separated by commas/],
      [['--concurrency', '2.5'], /whole number/],
      [['--client', 'curl'], /--client must be one of raw, undici, not 'curl'/],
      [['extra'], /positional/i],
    ];
    for (const [argv, msg] of cases) {
      const r = parseCli('x', 'y', OPTS, argv);
      expect(r.ok, argv.join(' ')).toBe(false);
      if (r.ok) continue;
      expect(r.exitCode).toBe(2);
      expect(r.text).toMatch(msg);
      expect(r.text).not.toMatch(/\n\s+at /);
    }
  });
});

/** Flags the README passes to each script (Performance, Reliability load tests, Observability). */
const README_FLAGS: Record<string, string[]> = {
  'standard.ts': ['--only', '--duration', '--warmup', '--initial-warmup', '--repeat', '--out', '--threads', '--concurrency', '--rate'],
  'overload.ts': ['--duration', '--runs', '--threads', '--max-queue-wait-ms', '--client', '--no-pin', '--json'],
  'chaos.ts': ['--duration', '--json'],
  'stalls.ts': ['--rate', '--duration', '--node-flags'],
  'model-bound.ts': ['--seconds', '--rows'],
  'client-cost.ts': ['--rate'],
  'registry-bench.ts': ['--envelopes', '--iterations'],
  'big-retail.ts': ['--out', '--seed'],
  'big-cost.ts': ['--data', '--requests', '--rounds', '--pipelines'],
  // These two started their servers (on 8091 and 8081) whatever the flags, --help included.
  'upstream-inventory.ts': ['--port', '--latency-ms', '--bench'],
  'bare-hono.ts': ['--port'],
};

const script = (file: string, args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'loadtest', file), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('the scripts the README names', () => {
  it('answer --help with their flags, before starting anything', () => {
    for (const [file, flags] of Object.entries(README_FLAGS)) {
      const r = script(file, ['--help']);
      expect(r.stderr, file).not.toMatch(/ERR_PARSE_ARGS|\n\s+at /);
      expect(r.status, file).toBe(0);
      for (const f of flags) expect(r.stdout, `${file} ${f}`).toMatch(new RegExp(`\\n  ${f}[ \\n]`));
    }
  }, 120_000);

  it('npm run loadtest refuses a bad value, an unknown scenario or a path for --out in one line, exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['--duration', '5s'], /--duration must be a number, not '5s'/],
      [['--only', 'gbdtt'], /unknown scenario 'gbdtt' in --only; known: gbdt, mlp, trivial/],
      // Was an uncaught Error: a stack trace and exit 1.
      [['--out', '../x'], /^npm run loadtest --: --out must be a plain file name \(letters, digits, '\.', '_', '-'\), got '\.\.\/x'\n/],
    ];
    for (const [args, msg] of cases) {
      const r = script('standard.ts', args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);

  it('the upstream service, the floor and big-cost refuse a mistyped flag, a port out of range or a missing data folder before starting', () => {
    for (const [file, args, msg] of [
      ['upstream-inventory.ts', ['--latency', '50'], /Unknown option '--latency'/],
      ['upstream-inventory.ts', ['--port', '70000'], /--port must be at most 65535, not '70000'/],
      ['bare-hono.ts', ['--port', 'x'], /--port must be a whole number, not 'x'/],
      // Was the engine's CONFIG_INVALID stack trace.
      ['big-cost.ts', ['--data', '/nonexistent/airmail-big'], /\/nonexistent\/airmail-big holds no big retailer \(no big\.yaml\): write it first with npx tsx loadtest\/big-retail\.ts --out \/nonexistent\/airmail-big/],
    ] as const) {
      const r = script(file, [...args]);
      expect(r.status, `${file} ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).not.toContain('listening');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
