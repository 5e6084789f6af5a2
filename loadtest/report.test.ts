/**
 * Where a load-test run writes its report: a quick `--only` check (as the README suggests) used to
 * overwrite the committed latest.{json,md} that the README quotes with a partial report.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineInfo, reportName, targetLines, writeReport } from './report.js';
import type { ScenarioResult } from './runner.js';

describe('reportName', () => {
  it('is latest for a full run, partial for an --only run, and --out when given', () => {
    expect(reportName({})).toBe('latest');
    expect(reportName({ only: 'trivial' })).toBe('partial');
    expect(reportName({ only: 'trivial', out: 'latest' })).toBe('latest');
    expect(reportName({ out: 'mlp-try' })).toBe('mlp-try');
  });

  it('refuses an --out that is a path', () => {
    expect(() => reportName({ out: '../README' })).toThrow(/plain file name/);
    expect(() => reportName({ out: 'a/b' })).toThrow(/plain file name/);
  });

  it('writeReport writes NAME.json and NAME.md', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-report-'));
    await writeReport({ machine: machineInfo(), command: 'npm run loadtest -- --only trivial', rows: [] }, dir, reportName({ only: 'trivial' }));
    expect((await readdir(dir)).sort()).toEqual(['partial.json', 'partial.md']);
  });
});

describe('targetLines', () => {
  const ran = (name: string, rps: number): ScenarioResult => ({ name, peak: { best: { rps, errorCount: 0 } } } as unknown as ScenarioResult);

  it('lists the targets of the scenarios that ran only: `--only trivial` printed "target MLP peak: not measured"', () => {
    const lines = targetLines([ran('bare-hono (floor)', 10_000), ran('trivial (Static 100 → Sort → Limit 10)', 7_000)]);
    expect(lines).toEqual(['target trivial ≥ 60 % of the floor: 70 % (7000 vs 10000 req/s) — met']);
    expect(targetLines([ran('complimentary_items (MLP)', 2_500)])).toEqual(['target MLP peak: 2500 req/s (want ≥ 2400 req/s) — met']);
  });

  it('a scenario that ran and measured nothing still says so', () => {
    expect(targetLines([{ name: 'complimentary_items (GBDT)', error: 'setup failed' }])).toEqual(['target GBDT peak: not measured req/s (want ≥ 1500 req/s) — not measured']);
  });
});
