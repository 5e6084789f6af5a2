/**
 * Issue: a dataset whose file failed to load (a typo in its path) made every pipeline using it say
 * "no dataset named 'campaign_3' (did you mean 'campaign_1'?)": wrong (it is defined) and a wrong
 * guess, 20 times in a retailer's configs. A use now says the dataset failed to load and where its
 * problem is reported, once at the preset that names it; a context or `items:` naming it says so too.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import { builtinOperators } from '../operators/index.js';

const OPS = new Map(builtinOperators.map((d) => [d.name, d]));

describe('uses of a dataset that failed to load', () => {
  it('say it failed to load, where, and guess no other name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-failed-ds-'));
    await writeFile(join(dir, 'c1.json'), JSON.stringify([{ id: 1 }]));
    await writeFile(join(dir, 'c3.json'), JSON.stringify([{ id: 3 }]));
    const data = { path: join(dir, 'data.yaml'), text: 'datasets:\n  campaign_1: {path: c1.json, key: id}\n  campaign_3: {path: c3.jsn, key: id}\ncontexts:\n  promo: {dataset: campaign_3, key: $promo}\n' };
    const presets = { path: join(dir, 'presets.yaml'), text: 'operators:\n  Campaign3: {use: Lookup, parameters: {dataset: campaign_3}}\n' };
    const pipes = [1, 2].map((i) => ({ path: join(dir, `p${i}.yaml`), text: `pipeline: {name: p${i}, item_type: id, items: campaign_${i === 1 ? 1 : 3}, initialization: {includes: [Campaign3]}${i === 1 ? ', operations: [{name: Match, parameters: {column: id, value: $promo.id}}]' : ''}}\n` }));
    const r = await loadConfigSet([data, presets, ...pipes], { operators: OPS });
    expect(r.ok).toBe(false);
    const lines = r.diagnostics.map((d) => `${d.file?.split('/').pop()}: ${d.message}`);
    expect(lines.join('\n')).not.toMatch(/did you mean 'campaign_1'|no config defines|no dataset named/);
    expect(lines.filter((l) => l.includes("dataset 'campaign_3' failed to load (its problem is reported in data.yaml)"))).toEqual([
      "presets.yaml: preset 'Campaign3' (Lookup): dataset 'campaign_3' failed to load (its problem is reported in data.yaml)",
    ]);
    expect(lines.some((l) => l.startsWith('p2.yaml') && l.includes("items names dataset 'campaign_3', which failed to load (its problem is reported in data.yaml)"))).toBe(true);
    expect(lines.some((l) => l.includes("context 'promo' names dataset 'campaign_3', which failed to load"))).toBe(true);
    expect(lines.filter((l) => l.startsWith('data.yaml') && l.includes('there is no file c3.jsn'))).toHaveLength(1);
  });
});
