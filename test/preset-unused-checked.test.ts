/**
 * A preset that no pipeline uses is checked at load, on what can be judged without a pipeline: its
 * operator is installed, and its given parameters are known and of the right type. Before, such a
 * preset loaded in silence (`use: Srot`, `ordr: desc` in a shared file), and its problem surfaced in
 * whichever pipeline first used it. A required parameter may still be left to each use, and a
 * reference stands for a value of the parameter's type.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

const PIPELINE = 'datasets:\n  items: {path: items.json, key: id}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';

async function load(presets: string, pipeline = PIPELINE): Promise<{ code: string; file?: string; line?: number; pointer?: string; message: string }[]> {
  const dir = await tempDir();
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, w: 2 }, { id: 2, w: 3 }]));
  await writeFile(join(dir, 'shared.yaml'), `operators:\n${presets}`);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const store = open(dir);
  return (await store.start()).map((d) => ({ code: d.code, message: d.message, ...(d.file ? { file: d.file.slice(dir.length + 1) } : {}), ...(d.line ? { line: d.line } : {}), ...(d.pointer ? { pointer: d.pointer } : {}) }));
}

describe('presets no pipeline uses', () => {
  it('an operator that is not installed is reported where the preset names it, with a suggestion', async () => {
    expect(await load('  Typo:\n    use: Srot\n    parameters: {by: w}\n')).toEqual([
      { code: 'UNKNOWN_OPERATOR', file: 'shared.yaml', line: 3, pointer: '/operators/Typo/use', message: "preset 'Typo' uses operator 'Srot', which is not installed (did you mean 'Sort'?)" },
    ]);
  });

  it('an unknown parameter or a value of the wrong type is a BAD_PARAMETER at the definition', async () => {
    const problems = await load('  Heavy:\n    use: Sort\n    parameters: {by: w, ordr: desc}\n  Few:\n    use: Sample\n    parameters: {n: lots}\n');
    expect(problems.map((p) => [p.code, p.pointer, p.line])).toEqual([
      ['BAD_PARAMETER', '/operators/Heavy/parameters/ordr', 4],
      ['BAD_PARAMETER', '/operators/Few/parameters/n', 7],
    ]);
    expect(problems[0]!.message).toMatch(/^preset 'Heavy' \(Sort\): 'ordr' is not a known property/);
    expect(problems[1]!.message).toMatch(/^preset 'Few' \(Sample\): /);
  });

  it('a required parameter left to each use, alternatives left open, and references are not problems', async () => {
    // Sort needs `by` or `score` (oneOf), Range `min` or `max` (anyOf): a preset may give neither.
    expect(await load('  Sorted:\n    use: Sort\n    parameters: {desc: true}\n  InRange:\n    use: Range\n    parameters: {column: w}\n  Some:\n    use: Sample\n    parameters: {n: $input.n}\n')).toEqual([]);
  });

  it('a preset a pipeline uses is checked through it, once (not again as unused)', async () => {
    const pipeline = 'datasets:\n  items: {path: items.json, key: id}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [Heavy]}\n';
    const problems = await load('  Heavy:\n    use: Sort\n    parameters: {by: w, ordr: desc}\n', pipeline);
    expect(problems.filter((p) => p.pointer === '/operators/Heavy/parameters/ordr')).toHaveLength(1);
  });
});
