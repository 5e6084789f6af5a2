import { expect, it } from 'vitest';
import { Breaker, BreakerTally, OTHER_ORIGIN } from './breaker.js';

it('opens after the threshold, lets one probe through after the open period, and closes on its success', () => {
  let now = 0;
  const b = new Breaker({ failureThreshold: 2, openMs: 100, maxOpenMs: 400 }, () => now);
  expect(b.admit()).toBe('call');
  b.failed(false);
  expect(b.state).toBe('closed');
  expect(b.admit()).toBe('call');
  b.failed(false);
  expect(b.state).toBe('open');
  expect(b.opened).toBe(1);
  expect(b.admit()).toBe('skip');
  expect(b.retryInMs).toBe(100);
  now = 100;
  expect(b.state).toBe('half-open');
  expect(b.admit()).toBe('probe');
  expect(b.admit()).toBe('skip'); // one probe at a time
  b.succeeded(true);
  expect(b.state).toBe('closed');
  expect(b.admit()).toBe('call');
});

it('a failed probe reopens it for twice as long, up to the longest period; a success resets the period', () => {
  let now = 0;
  const b = new Breaker({ failureThreshold: 1, openMs: 100, maxOpenMs: 300 }, () => now);
  b.failed(false);
  const periods: number[] = [];
  for (let i = 0; i < 4; i++) {
    now += b.retryInMs;
    expect(b.admit()).toBe('probe');
    b.failed(true);
    periods.push(b.retryInMs);
  }
  expect(periods).toEqual([200, 300, 300, 300]);
  expect(b.opened).toBe(1); // failed probes reopen, they do not count as new openings
  now += 300;
  expect(b.admit()).toBe('probe');
  b.succeeded(true);
  b.failed(false);
  expect(b.retryInMs).toBe(100);
  expect(b.opened).toBe(2);
});

it('a probe whose caller gave up frees the probe slot without judging the dependency', () => {
  let now = 0;
  const b = new Breaker({ failureThreshold: 1, openMs: 50 }, () => now);
  b.failed(false);
  now = 50;
  expect(b.admit()).toBe('probe');
  b.released(true);
  expect(b.state).toBe('half-open');
  expect(b.admit()).toBe('probe');
});

it('failures of calls sent before it opened do not extend the open period', () => {
  let now = 0;
  const b = new Breaker({ failureThreshold: 1, openMs: 100 }, () => now);
  b.failed(false);
  now = 60;
  b.failed(false); // a call that was already in flight
  expect(b.retryInMs).toBe(40);
});

it('a tally counts by origin for good, and past its bound under one _other row (a URL may put a request value in its host)', () => {
  const t = new BreakerTally(2);
  t.opened('http://a:80');
  t.skipped('http://a:80');
  t.skipped('http://a:80');
  t.opened('http://b:80');
  t.opened('http://c:80');
  t.skipped('http://d:80');
  t.opened('http://a:80');
  expect(t.rows()).toEqual([
    { origin: 'http://a:80', opened: 2, skipped: 2 },
    { origin: 'http://b:80', opened: 1, skipped: 0 },
    { origin: OTHER_ORIGIN, opened: 1, skipped: 1 },
  ]);
});
