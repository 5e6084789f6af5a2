/**
 * Regression: a business user's typo in a key, a parameter or a column was reported without the
 * name it meant ("'initialisation' is not a known property"), although unknown operators already
 * said "did you mean". Every misspelt name now suggests the nearest one it could mean.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import { describeErrors, didYouMean, newAjv } from '../engine/config/validators.js';
import { OPS, tempDir } from './helpers.js';

async function problems(pipeline: string): Promise<string[]> {
  const dir = await tempDir('airmail-typo-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1, brand: 'a', price: 2, pop: 3 }]));
  const path = join(dir, 'p.yaml');
  const r = await loadConfigSet([{ path, text: `datasets:\n  items: {path: items.json, key: sku}\n${pipeline}` }], { operators: OPS });
  return r.ok ? [] : r.diagnostics.map((d) => `${d.line}: ${d.message}`);
}

describe('misspelt names suggest what they meant', () => {
  it('pipeline keys, step keys and operator parameters', async () => {
    const got = await problems(`pipeline:
  name: p
  item_type: sku
  initialisation:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operation:
  - {name: Sort, parameters: {by: price, dsc: true}}
`);
    expect(got).toEqual(expect.arrayContaining([
      expect.stringMatching(/^6: .*'initialisation' is not a known property \(did you mean 'initialization'\?\)$/),
      expect.stringMatching(/^8: .*'operation' is not a known property \(did you mean 'operations'\?\)$/),
    ]));
    const steps = await problems(`pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    scores: [{name: Column, wieght: 2, parameters: {column: pop}}]
  operations:
  - {name: Sort, parameters: {by: price, dsc: true}}
`);
    expect(steps).toEqual(expect.arrayContaining([
      expect.stringMatching(/^8: .*'wieght' is not a known property \(did you mean 'weight'\?\)$/),
      expect.stringMatching(/^10: .*Sort: 'dsc' is not a known property \(did you mean 'desc'\?\)$/),
    ]));
  });

  it('columns a step reads or the pipeline returns', async () => {
    const got = await problems(`pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operations:
  - {name: Dedupe, parameters: {by: brnd}}
  return: [sku, pirce]
`);
    expect(got).toEqual(expect.arrayContaining([
      expect.stringMatching(/^9: .*Dedupe reads column 'brnd'.* \(did you mean 'brand'\?\)$/),
      expect.stringMatching(/^10: .*return names column 'pirce'.* \(did you mean 'price'\?\)$/),
    ]));
  });

  it('an unknown request input', () => {
    const validate = newAjv().compile({ type: 'object', properties: { client_id: { type: 'integer' } }, additionalProperties: false });
    validate({ clinet_id: 1 });
    expect(describeErrors(validate.errors)).toEqual([{ path: '/clinet_id', message: "'clinet_id' is not a known property (did you mean 'client_id'?)" }]);
  });

  it('suggests nothing far-fetched', () => {
    expect(didYouMean('x', ['n'])).toBe('');
    expect(didYouMean('color', ['sku', 'price'])).toBe('');
    expect(didYouMean('Al', ['All'])).toBe(" (did you mean 'All'?)");
  });
});
