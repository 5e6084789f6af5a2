/**
 * The /ui page as an on-call engineer uses it on data of our own, in a real
 * headless Chromium (as test/ui.test.ts): markup in item ids and column values
 * is shown as text and never runs; a source that failed is marked failed in the
 * debug trace with its reason (it looked like a step that returned nothing);
 * inputs that are not JSON clear the last run's tables instead of leaving them
 * to pass for this one's; a list-typed input gets a runnable example value; and
 * a text id that looks like a number ("007") is asked about as typed.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SCRIPT_ID = '<script>window.__pwned = 1</script>';
const IMG_ID = '<img src=x onerror="window.__pwned = 2">';
let srv: RunningServer;
let browser: Browser;
let dir: string;

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function runWith(page: Page, pipeline: string, inputs: string | undefined): Promise<void> {
  await page.selectOption('#run-pipeline', pipeline);
  if (inputs !== undefined) await page.fill('#run-inputs', inputs);
  await page.evaluate("document.getElementById('run-status').textContent = ''");
  await page.click('#run');
  await page.waitForFunction("(document.getElementById('run-status').textContent || '') !== '' && !document.getElementById('run-status').textContent.startsWith('running')");
}

async function ask(page: Page, item: string): Promise<string> {
  await page.evaluate("document.getElementById('why-answer').textContent = ''");
  await page.fill('#why-item', item);
  await page.click('#why');
  await page.waitForFunction("(document.getElementById('why-answer').textContent || '') !== ''");
  return (await page.textContent('#why-answer')) ?? '';
}

describe('GET /ui on our own data in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM} (.ci/run installs it)`);
    dir = await tempDir();
    await writeFile(join(dir, 'things.json'), JSON.stringify([
      { sid: 'a', grp: 'g1', title: 'plain', n: 1 },
      { sid: SCRIPT_ID, grp: 'g1', title: IMG_ID, n: 2 },
      { sid: IMG_ID, grp: '<b>g2</b>', title: 'x', n: 3 },
      { sid: '007', grp: 'g2', title: 'bond', n: 4 },
    ]));
    await writeFile(join(dir, 'main.yaml'), `datasets:
  things: {path: things.json, key: sid}
operators:
  Down: {use: HttpSource, parameters: {url: 'http://127.0.0.1:${await closedPort()}/c', retries: 0, timeout_ms: 200}}
pipelines:
- name: things
  item_type: sid
  initialization:
    includes: [{name: Lookup, parameters: {dataset: things, where: {grp: $grp}}}]
  operations:
  - {name: Match, parameters: {column: n, op: not_in, value: $skip}}
  - {name: Range, parameters: {column: n, min: $min}}
  return: [sid, grp, title]
- name: down
  item_type: sid
  initialization:
    includes: [Down, {name: Static, parameters: {items: [a]}}]
`);
    srv = await server({ configs: dir, threads: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows markup as text, marks a failed source, clears stale runs and asks about ids as typed', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
    await page.goto(`${srv.url}/ui`);
    await page.waitForSelector('#pipelines tbody tr');

    // Example inputs of each type, lists included, so running them is not a 422 for a type.
    await page.selectOption('#run-pipeline', 'things');
    expect(JSON.parse(await page.inputValue('#run-inputs'))).toEqual({ grp: '', skip: 1, min: 1 });
    await runWith(page, 'things', undefined);
    expect(await page.textContent('#run-status')).toMatch(/^200 · 0 items/);
    await runWith(page, 'things', JSON.stringify({ grp: ['g1', '<b>g2</b>'], skip: [], min: 0 }));
    expect(await page.textContent('#run-status')).toMatch(/^200 · 3 items/);
    const cells = await page.locator('#items tbody td').allTextContents();
    expect(cells).toEqual(expect.arrayContaining([SCRIPT_ID, IMG_ID, '<b>g2</b>']));
    expect(await page.locator('#items img, #items script, #items b, #trace img, #trace script').count()).toBe(0);
    expect(await ask(page, IMG_ID)).toMatch(/^kept: /);
    expect(await page.locator('#why-answer img').count()).toBe(0);
    expect(await ask(page, '007')).toMatch(/^not_included: no include produced item 007/);

    // The failed source's row says it failed and why, in the debug trace.
    await runWith(page, 'down', '{}');
    expect(await page.textContent('#run-status')).toContain('ECONNREFUSED');
    const row = page.locator('#trace tbody tr', { hasText: 'Down' });
    expect(await row.locator('td').first().getAttribute('class')).toContain('bad');
    expect(await row.textContent()).toMatch(/failed \(SOURCE_FAILED\): .*ECONNREFUSED/);
    expect(await ask(page, 'a')).toMatch(/^error: the pipeline failed/);

    // Inputs that are not JSON: the last run's tables and answer go, the status says why.
    await runWith(page, 'down', '{not json');
    expect(await page.textContent('#run-status')).toMatch(/^inputs are not JSON/);
    expect(await page.locator('#trace tbody tr').count()).toBe(0);
    expect(await page.locator('#items tbody tr').count()).toBe(0);
    expect(await page.textContent('#why-answer')).toBe('');

    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });
});
