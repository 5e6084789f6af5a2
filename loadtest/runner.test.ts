import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareHonoApp } from './bare-hono.js';
import { runLoadtestCli } from './cli.js';
import type { CliIo } from './cli.js';
import { FLOOR_SCENARIO_NAME, runScenarios } from './runner.js';
import type { Scenario } from './runner.js';
import type { Report } from './report.js';

const FAST = { concurrencies: [2, 4], rate: 50, durationS: 0.3, warmupS: 0, initialWarmupS: 0 } as const;

let dir: string;
let url: string;
let server: ReturnType<typeof serve>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airmail-loadtest-'));
  server = serve({ fetch: bareHonoApp().fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

function capture(): CliIo & { outText: string[]; errText: string[] } {
  const outText: string[] = [];
  const errText: string[] = [];
  return { outText, errText, out: (t) => outText.push(t), err: (t) => errText.push(t) };
}

describe('runScenarios', () => {
  it('measures the floor first, then each scenario, and writes both report files', async () => {
    const inProcess: Scenario = {
      name: 'in-process',
      setup: async () => ({ url, pid: process.pid, makeRequest: (i) => ({ path: '/pipelines/x', body: `{"client_id":${i}}` }), teardown: async () => {} }),
    };
    const broken: Scenario = {
      name: 'broken',
      setup: async () => {
        throw new Error('no config');
      },
    };
    const run = await runScenarios([inProcess, broken], { ...FAST, outDir: dir, command: 'test command' });
    expect(run.results.map((r) => r.name)).toEqual([FLOOR_SCENARIO_NAME, 'in-process', 'broken']);
    expect(run.results[2]!.error).toBe('no config');
    // 2 closed + 1 open per measured scenario; the broken one adds no rows.
    expect(run.report.rows).toHaveLength(6);
    const peakRow = run.report.rows.find((r) => r.scenario === 'in-process' && r.peak);
    expect(peakRow?.vsFloor?.kind).toBe('rps');
    expect(run.report.rows.find((r) => r.scenario === 'in-process' && r.result.mode === 'open')?.vsFloor?.kind).toBe('p99');
    expect(run.report.rows.filter((r) => r.vsFloor).every((r) => r.scenario !== FLOOR_SCENARIO_NAME)).toBe(true);

    const json = JSON.parse(await readFile(run.paths!.jsonPath, 'utf8')) as Report;
    expect(json.command).toBe('test command');
    expect(json.machine.cpus).toBeGreaterThan(0);
    const md = await readFile(run.paths!.mdPath, 'utf8');
    expect(md).toContain('| scenario | mode | load | req/s | p50 | p90 | p99 | p99.9 |');
    expect(md).toContain('closed (peak)');
    expect(md).toContain('`test command`');
    expect(md).toContain('broken failed: no config');
    expect(md.split('\n').filter((l) => l.startsWith(`| ${FLOOR_SCENARIO_NAME} |`))).toHaveLength(3);
  });
});

describe('runLoadtestCli', () => {
  it('runs one closed-loop measurement and prints JSON', async () => {
    const io = capture();
    const code = await runLoadtestCli(['--url', `${url}/pipelines/x`, '--concurrency', '2', '--duration', '0.3', '--warmup', '0', '--body', '{"client_id":1}'], io);
    expect(code).toBe(0);
    const summary = JSON.parse(io.outText.join('\n')) as { closed: { mode: string; completed: number; errorCount: number } };
    expect(summary.closed.mode).toBe('closed');
    expect(summary.closed.completed).toBeGreaterThan(0);
    expect(summary.closed.errorCount).toBe(0);
  });

  it('runs both modes with a peak search', async () => {
    const io = capture();
    const args = ['--url', url, '--mode', 'both', '--concurrency', '1,2', '--rate', '40', '--duration', '0.25', '--warmup', '0'];
    expect(await runLoadtestCli(args, io)).toBe(0);
    const summary = JSON.parse(io.outText.join('\n')) as { closed: { runs: unknown[] }; open: { requests: number } };
    expect(summary.closed.runs).toHaveLength(2);
    expect(summary.open.requests).toBe(10);
  });

  // Regression: --report wrote loadtest/results/latest.{json,md} by default, over the committed report
  // of a full `npm run loadtest`, with the floor and one URL; it writes partial.* unless named.
  it('--report writes partial.{json,md}, latest.* only when asked by --report-name', async () => {
    const out = await mkdtemp(join(dir, 'report-'));
    const args = ['--report', '--url', `${url}/pipelines/x`, '--mode', 'closed', '--concurrency', '1', '--duration', '0.2', '--warmup', '0', '--initial-warmup', '0', '--rate', '0', '--out', out];
    const io = capture();
    expect(await runLoadtestCli(args, io)).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['partial.json', 'partial.md']);
    expect(await runLoadtestCli([...args, '--report-name', 'latest'], capture())).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['latest.json', 'latest.md', 'partial.json', 'partial.md']);
    for (const bad of [['--report-name', '../x'], ['--url', url, '--report-name', 'x']]) {
      const e = capture();
      expect(await runLoadtestCli(bad[0] === '--url' ? bad : [...args, ...bad], e)).toBe(2);
      expect(e.errText.join('\n')).toMatch(/--report-name/);
    }
  });

  it('rejects bad arguments with exit code 2 and usage', async () => {
    for (const args of [['--mode', 'sideways', '--url', url], ['--url', url, '--concurrency', '0'], ['--bogus'], []]) {
      const io = capture();
      expect(await runLoadtestCli(args, io)).toBe(2);
      expect(io.errText.join('\n')).toContain('usage:');
    }
  });
});
