/**
 * Regression: candidates are keyed by the item type, whatever type a source answers its ids in. A
 * custom source that returned integer ids as text ("2", as read from a CSV or a Redis set) added a
 * second item 2 beside Lookup's 2, escaped an exclude of 3, and turned every id of the answer into
 * text; an id that can be no item (null, "x" for integer ids) became the item "null" / "x".
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineOperator, valueAt, type Dataset, type OperatorDefinition } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { builtinOperators } from '../operators/index.js';
import { tempDir } from './helpers.js';

const answer = defineOperator<{ ids: unknown[] }>({
  kind: 'source', name: 'Answer', summary: 'answers the ids it is given, as given (a custom or remote source)',
  parameters: { type: 'object', required: ['ids'], properties: { ids: { type: 'array' } } },
  run: (p) => ({ ids: p.ids as (string | number)[] }),
});
const OPS = new Map<string, OperatorDefinition>([...builtinOperators, answer as OperatorDefinition].map((d) => [d.name, d]));

async function run(items: readonly Record<string, unknown>[], pipeline: string, literal: boolean) {
  const dir = await tempDir('airmail-ids-');
  await writeFile(join(dir, 'items.json'), JSON.stringify(items));
  const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text: `datasets:\n  items: {path: items.json, key: sku}\n${pipeline}` }], { operators: OPS });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  const env = { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel };
  const out = await execute(r.snapshot.pipelines.get('p')!.plan, env, {}, { literal });
  const ids = Array.from({ length: out.length }, (_, i) => valueAt(out.columns['sku']!, i));
  return { out, ids };
}

const INT_ITEMS = [{ sku: 1, c: 'a' }, { sku: 2, c: 'b' }, { sku: 3, c: 'c' }];
const pipeline = (answerIds: string, excludes = '[{name: Static, parameters: {items: [3]}}]'): string => `pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Answer, parameters: {ids: ${answerIds}}}, {name: Lookup, parameters: {dataset: items}}]
    excludes: ${excludes}
  return: [sku, c]
`;

describe('source ids are keyed by the item type', () => {
  for (const literal of [true, false]) {
    it(`integer ids answered as text are the same items (${literal ? 'literal order' : 'candidate memo'})`, async () => {
      const { out, ids } = await run(INT_ITEMS, pipeline('["2", "3"]'), literal);
      expect(out.error).toBe(false);
      // One item 2 (a number, hydrated), 3 excluded, 1 from Lookup.
      expect(ids).toEqual([2, 1]);
      expect(valueAt(out.columns['c']!, 0)).toBe('b');
    });

    it(`an exclude answering text removes the integer item (${literal ? 'literal order' : 'candidate memo'})`, async () => {
      const { ids } = await run(INT_ITEMS, pipeline('[1]', '[{name: Answer, parameters: {ids: ["2"]}}]'), literal);
      expect(ids).toEqual([1, 3]);
    });
  }

  it('text ids answered as numbers are the same items', async () => {
    const items = [{ sku: '10', c: 'a' }, { sku: 'x', c: 'b' }];
    const { ids } = await run(items, pipeline('[10, "x"]', '[]'), true);
    expect(ids).toEqual(['10', 'x']);
  });

  it('an id that can be no item fails the source, naming it and the id', async () => {
    for (const [bad, shown] of [['[1, "x"]', '"x"'], ['[1, null]', 'null'], ['[true]', 'true']] as const) {
      const { out } = await run(INT_ITEMS, pipeline(bad, '[]'), true);
      expect(out).toMatchObject({ error: true, errorCode: 'SOURCE_FAILED', operator: 'Answer' });
      expect(out.reason).toContain(`returned ${shown} as an item id`);
    }
  });
});
