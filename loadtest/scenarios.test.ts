/**
 * The standard-workload check every script makes first. Without ../shared/bench the engine loads
 * only the trivial pipeline: stalls.ts timed the 404s and printed their p99, batch-cost.ts,
 * observe-cost.ts and model-bound.ts ended in stack traces.
 */
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCH_FILES, benchMissing, engineBuild } from './scenarios.js';

describe('benchMissing', () => {
  it('names a folder that does not exist, or the files it lacks; nothing when all are there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airmail-bench-'));
    expect(benchMissing(join(dir, 'nope'))).toBe(`the standard workload is missing: ${join(dir, 'nope')} does not exist (it is read from ../shared/bench beside the project; see its README.md)`);
    for (const f of BENCH_FILES) if (f !== 'purchases.arrow' && f !== 'psale_mlp.onnx') writeFileSync(join(dir, f), '');
    expect(benchMissing(dir)).toMatch(new RegExp(`${dir} has no purchases\\.arrow, psale_mlp\\.onnx \\(`));
    expect(benchMissing(dir, ['catalog.arrow'])).toBeUndefined();
    writeFileSync(join(dir, 'purchases.arrow'), '');
    writeFileSync(join(dir, 'psale_mlp.onnx'), '');
    expect(benchMissing(dir)).toBeUndefined();
  });
});

describe('engineBuild (npm run loadtest ran a dist/ older than the sources and said nothing)', () => {
  it('says which code the engine runs, and flags a dist/ that a source changed after', () => {
    const root = mkdtempSync(join(tmpdir(), 'airmail-build-'));
    for (const d of ['dist/engine', 'engine/cache', 'operators']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'engine/cache/lru.ts'), '');
    writeFileSync(join(root, 'operators/sort.test.ts'), '');
    writeFileSync(join(root, 'dist/engine/cli.js'), '');
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(root, 'engine/cache/lru.ts'), past, past);
    utimesSync(join(root, 'operators/sort.test.ts'), past, past);
    expect(engineBuild(root, false)).toEqual({ note: 'engine: dist/ (built after the last change to the sources)', stale: false });
    expect(engineBuild(root, true).note).toBe('engine: the TypeScript sources (through tsx)');
    utimesSync(join(root, 'dist/engine/cli.js'), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const stale = engineBuild(root, false);
    expect(stale.stale).toBe(true);
    expect(stale.note).toContain('engine: dist/, OLDER than the sources (engine/cache/lru.ts changed since the build): run npm run build');
  });
});
