/**
 * The /ui run form on an A/B experiment (README "A/B experiments": "its run form runs them"): the
 * items and trace shown are one arm's, so the page says which arm answered and how it was picked,
 * and when that arm fell back, which pipeline answered instead; its "why" names the arm it looked
 * into; the experiment's own description is listed beside its arms. Before, the status line read
 * "200 · 3 items" whichever arm ran, a fallback's items passed for the arm's, and the description was
 * replaced by the arms. In a real Chromium.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
let srv: RunningServer;

const bucket = (unit: number): number => parseInt(createHash('sha256').update(`shop_feed:${unit}`).digest('hex').slice(0, 8), 16) % 10000;

beforeAll(async () => {
  const dir = await tempDir('airmail-ui-experiment-');
  await writeFile(join(dir, 'products.json'), JSON.stringify([{ sku: 1, price: 5, sales: 10 }, { sku: 2, price: 9, sales: 30 }, { sku: 3, price: 2, sales: 20 }]));
  await writeFile(join(dir, 'shop.yaml'), `
datasets:
  products: {path: products.json, key: sku}
pipelines:
- name: best_sellers
  item_type: sku
  inputs: {customer: {type: integer}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: products}}]
    scores: [{name: Column, parameters: {column: sales}}]
  operations: [{name: Sort, parameters: {by: score, desc: true}}]
- name: luxury
  item_type: sku
  inputs: {customer: {type: integer}}
  fallback: best_sellers
  initialization:
    includes: [{name: Lookup, parameters: {dataset: products}}]
  operations: [{name: Range, parameters: {column: price, min: 100}}]
experiments:
- name: shop_feed
  description: luxury ranking test
  unit: $customer
  arms:
  - {pipeline: best_sellers, weight: 1}
  - {pipeline: luxury, weight: 1}
`);
  srv = await server({ configs: dir, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

describe('the UI run form on an experiment', () => {
  it('says which arm answered, how it was picked, and the fallback that answered for it', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}`);
    // A customer of each arm, by the README's formula (luxury owns buckets 5000 to 9999).
    const ids = Array.from({ length: 50 }, (_, i) => i + 1);
    const plain = ids.find((i) => bucket(i) < 5000)!;
    const lux = ids.find((i) => bucket(i) >= 5000)!;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${srv.url}/ui`);
      await page.waitForSelector('#run-pipeline option[value="shop_feed"]', { state: 'attached' });
      // The experiment's own description is kept beside its arms and shares.
      expect(await page.locator('#pipelines tbody tr', { hasText: 'shop_feed' }).innerText()).toContain('luxury ranking test · experiment on customer: best_sellers 50%, luxury 50%');
      await page.selectOption('#run-pipeline', 'shop_feed');
      const runFor = async (inputs: string): Promise<string> => {
        await page.fill('#run-inputs', inputs);
        await page.click('#run');
        await page.waitForFunction("!/running/.test(document.getElementById('run-status').textContent || 'running')");
        return (await page.textContent('#run-status')) ?? '';
      };
      const a = await runFor(JSON.stringify({ customer: plain }));
      expect(a).toContain(`arm best_sellers (assigned, bucket ${bucket(plain)})`);
      expect(a).not.toContain('fallback');
      const b = await runFor(JSON.stringify({ customer: lux }));
      expect(b).toContain(`arm luxury (assigned, bucket ${bucket(lux)})`);
      expect(b).toContain('answered by fallback best_sellers (luxury: empty)');
      await page.fill('#why-item', '2');
      await page.click('#why');
      await page.waitForFunction("(document.getElementById('why-answer').textContent || '') !== ''");
      expect(await page.textContent('#why-answer')).toMatch(/^arm luxury · /);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
