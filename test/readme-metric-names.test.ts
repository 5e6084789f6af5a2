/**
 * The metric names the README gives are the ones /metrics prints, both ways: an on-call engineer
 * who types a name from the README into a dashboard gets a series, and every series /metrics can
 * print is explained there. The Reliability table once named `airmail_redis_source_breaker_opened_total`
 * and `airmail_redis_source_skipped_total`, which never existed (the breaker's pair is
 * `airmail_source_breaker_{opened,skipped}_total{kind}`), and the Metrics list left that pair out.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

/** Names the engine registers: `new Counter|Gauge|Histogram('airmail_...'` and ui.ts's `metric('airmail_...'`. */
function engineMetricNames(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/(?:new (?:Counter|Gauge|Histogram)|\bmetric)\(\s*'(airmail_[a-z0-9_]+)'/g)) out.add(m[1]!);
      }
    }
  };
  walk(join(ROOT, 'engine'));
  return out;
}

/** Names the README gives, `a_{x,y}_b` read as `a_x_b` and `a_y_b`; a label set (`{pipeline,status}`) is not part of a name. */
function readmeMetricNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/airmail_[a-z0-9_]*(?:\{([a-z]+(?:,[a-z]+)+)\}(_[a-z0-9_]+))?/g)) {
    const [whole, alts, tail] = m;
    if (alts && tail) {
      const head = whole.slice(0, whole.indexOf('{'));
      for (const a of alts.split(',')) out.add(`${head}${a}${tail}`);
    } else out.add(whole.replace(/_(bucket|sum|count)$/, ''));
  }
  return out;
}

describe('README metric names', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const engine = engineMetricNames();

  it('finds the engine metrics (the scan works)', () => {
    expect(engine.has('airmail_requests_total')).toBe(true);
    expect(engine.has('airmail_pool_queue_depth')).toBe(true);
    expect(engine.size).toBeGreaterThan(20);
  });

  it('names only metrics the engine prints', () => {
    const named = [...readmeMetricNames(readme)].filter((n) => n.length > 'airmail_'.length);
    expect(named.filter((n) => !engine.has(n))).toEqual([]);
  });

  it("names every metric the engine prints in the Observability section's metrics list", () => {
    const start = readme.indexOf('**Metrics** (`GET /metrics`)');
    const end = readme.indexOf('**Tracing.**', start);
    expect(start).toBeGreaterThan(0);
    const listed = readmeMetricNames(readme.slice(start, end));
    expect([...engine].filter((n) => !listed.has(n))).toEqual([]);
  });
});
