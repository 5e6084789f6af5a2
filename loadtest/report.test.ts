/**
 * Where a load-test run writes its report: a quick `--only` check (as the README suggests) used to
 * overwrite the committed latest.{json,md} that the README quotes with a partial report.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineInfo, reportName, writeReport } from './report.js';

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
