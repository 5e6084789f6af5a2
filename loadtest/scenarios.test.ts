/**
 * The standard-workload check every script makes first. Without ../shared/bench the engine loads
 * only the trivial pipeline: stalls.ts timed the 404s and printed their p99, batch-cost.ts,
 * observe-cost.ts and model-bound.ts ended in stack traces.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCH_FILES, benchMissing } from './scenarios.js';

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
