/**
 * The command line as an operator uses it: a rejected config says so in one line (no Node
 * "(node:PID) Warning ... --trace-warnings" text, on run or serve), an unknown flag names the one
 * meant, stray arguments are refused, every subcommand has its own --help, and run reads
 * AIRMAIL_CONFIGS as the README's environment table says.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { airmailCli, ROOT, tempDir } from './helpers.js';

const BIN = join(ROOT, 'bin/airmail.mjs');

const GOOD = `pipeline:
  name: tiny
  item_type: sku_id
  initialization:
    includes: [Items]
  operations:
  - {name: Sort, parameters: {score: sku_id, desc: true}}
operators:
  Items: {use: Static, parameters: {items: [{sku_id: 1}, {sku_id: 2}]}}
`;
const BROKEN = 'pipeline: {name: broken, item_type: sku_id, initialization: {includes: [Nope]}}\n';

let good: string;
let bad: string;
beforeAll(async () => {
  const dir = await tempDir('airmail-cli-operator-');
  good = join(dir, 'good');
  bad = join(dir, 'bad');
  await mkdir(good);
  await mkdir(bad);
  await writeFile(join(good, 'tiny.yaml'), GOOD);
  await writeFile(join(bad, 'broken.yaml'), BROKEN);
});

describe('a rejected config, as airmail run and serve report it', () => {
  it('run: the problem, then one line saying the pipeline\'s file was rejected; no Node warning', async () => {
    const r = await airmailCli({}, 'run', 'broken', '--configs', bad);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/\(node:\d+\)|trace-warnings|AIRMAIL_CONFIG_REJECTED/);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/broken\.yaml:1:\d+: .*'Nope'.*\[UNKNOWN_OPERATOR\]$/);
    expect(lines[1]).toMatch(/^airmail run: no pipeline named 'broken' is loaded \(loaded: none\): broken\.yaml in .* was rejected for the 1 problem\(s\) above, .*\[PIPELINE_NOT_FOUND\]$/);
  });

  it('serve: the rejection is one JSON log line on stdout, nothing on stderr', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--configs', bad, '--port', '0', '--threads', '1'], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', NODE_ENV: 'production', AIRMAIL_LOG_LEVEL: 'info' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const deadline = Date.now() + 20_000;
    while (!out.includes('airmail serving') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toBe('');
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => String(l['msg']).startsWith('config rejected at startup'))).toEqual([expect.objectContaining({ level: 'warn', files: ['broken.yaml'] })]);
  }, 30_000);
});

describe('flags and arguments', () => {
  it.each([
    [['serve', '--prot', '1'], "airmail serve: unknown option '--prot' (did you mean --port?)"],
    [['serve', '--deadline', '5'], "airmail serve: unknown option '--deadline' (did you mean --deadline-ms?)"],
    [['run', 'tiny', '--inptu', 'a=1'], "airmail run: unknown option '--inptu' (did you mean --input?)"],
    [['validate', '--alon', 'x.yaml'], "airmail validate: unknown option '--alon' (did you mean --alone?)"],
    [['registry', 'serve', '--root', '/nonexistent', '--prot', '1'], "airmail registry serve: unknown option '--prot' (did you mean --port?)"],
    [['publish', '--artifcat', 'x'], "airmail publish: unknown option '--artifcat' (did you mean --artifact?)"],
    [['run', 'tiny', 'extra'], "airmail run: unexpected argument 'extra'"],
    [['registry', 'resolve', 'psale', '--name', 'psale'], "airmail registry resolve: unexpected argument 'psale'"],
  ])('%j is refused with exit 2, naming what was meant', async (args, first) => {
    const r = await airmailCli({}, ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(first);
    expect(r.stderr).toContain('usage:');
  });

  it('an unknown command names the nearest one', async () => {
    const r = await airmailCli({}, 'sevre');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe("airmail: unknown command 'sevre' (did you mean serve?)");
  });

  it('--help of a subcommand shows that subcommand and the exit status; -h and --version work alone', async () => {
    const run = await airmailCli({}, 'run', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage:\n {2}airmail run PIPELINE .*--debug/);
    expect(run.stdout).not.toContain('airmail serve');
    expect(run.stdout).toContain('exit status: 0 done; 2 ');
    const helpRun = await airmailCli({}, 'help', 'run');
    expect(helpRun.stdout).toBe(run.stdout);
    const h = await airmailCli({}, '-h');
    expect([h.code, h.stderr]).toEqual([0, '']);
    expect(h.stdout).toMatch(/^usage:\n {2}airmail serve [\s\S]*airmail registry serve/);
    const v = await airmailCli({}, '--version');
    expect([v.code, v.stdout]).toEqual([0, expect.stringMatching(/^airmail \d+\.\d+\.\d+\n$/)]);
  });
});

describe('a --host that is no address', () => {
  it('says which host and what to give, in one line, exit 1 (was: getaddrinfo ENOTFOUND 999.1.1.1)', async () => {
    const r = await airmailCli({}, 'serve', '--configs', good, '--port', '0', '--threads', '1', '--host', '999.1.1.1');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^airmail serve: cannot listen on 999\.1\.1\.1: no such host \((ENOTFOUND|EAI_AGAIN)\); give --host an address of this machine/)]);
  }, 30_000);
});

describe('--threads', () => {
  it('a number of threads no machine could start is refused at once (every worker starts with its own heap)', async () => {
    for (const [env, args, who] of [[{}, ['--threads', '40000'], '--threads'], [{ AIRMAIL_THREADS: '40000' }, [], 'AIRMAIL_THREADS']] as const) {
      const r = await airmailCli(env, 'serve', '--configs', good, '--port', '0', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`airmail serve: ${who} must be a whole number from 0 to 256, got '40000'`);
    }
  }, 30_000);
});

describe('environment', () => {
  it('run reads AIRMAIL_CONFIGS; --configs wins over it', async () => {
    const r = await airmailCli({ AIRMAIL_CONFIGS: good }, 'run', 'tiny');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { items: unknown[] }).items).toEqual([{ sku_id: 2 }, { sku_id: 1 }]);
    const flag = await airmailCli({ AIRMAIL_CONFIGS: good }, 'run', 'tiny', '--configs', bad);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain('[PIPELINE_NOT_FOUND]');
  });
});

describe('values given twice or empty', () => {
  it('an empty --port is a usage error, not the default port (an empty PORT variable is unset)', async () => {
    const r = await airmailCli({}, 'serve', '--port', '', '--configs', good);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("airmail serve: --port must be a whole number from 0 to 65535, got ''");
  });

  it('run --input given twice is read as a repeated query parameter: a scalar input refuses it, never keeping the last', async () => {
    const r = await airmailCli({}, 'run', 'MyPipeline', '--input', 'client_id=1', '--input', 'client_id=2');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'client_id' is given 2 times");
    expect(r.stderr).toContain('[INPUT_INVALID]');
  });
});
