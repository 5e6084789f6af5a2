import { describe, expect, it } from 'vitest';
import { KeptForSharedRows } from './kept.js';

// The thread's budget is read when the first cache is made: 1 MB here.
process.env['AIRMAIL_MEMO_MB'] = '1';
const KB = 1024;
const rows = (): Int32Array => new Int32Array(1);

describe('KeptForSharedRows', () => {
  it('keeps what make() gives, per rows array, and gives it back without calling make() again', () => {
    const kept = new KeptForSharedRows<Float32Array>(1024 * KB);
    const r = rows();
    let made = 0;
    const a = kept.get(r, () => (made++, new Float32Array(10)));
    expect(kept.get(r, () => (made++, new Float32Array(10)))).toBe(a);
    expect(made).toBe(1);
    expect(kept.get(rows(), () => undefined)).toBeUndefined();
    expect(kept.size).toBe(1);
  });

  it('shares one budget among all caches of the thread and drops the least recently used of any of them', () => {
    const trees = new KeptForSharedRows<Uint8Array>();
    const inputs = new KeptForSharedRows<Uint8Array>();
    const r1 = rows(), r2 = rows(), r3 = rows();
    trees.get(r1, () => new Uint8Array(400 * KB));
    inputs.get(r2, () => new Uint8Array(400 * KB));
    trees.get(r1, () => undefined); // r1 used last: r2 is the least recently used
    inputs.get(r3, () => new Uint8Array(400 * KB)); // 1,200 KB > 1 MB: one goes
    expect(trees.size).toBe(1);
    expect(inputs.size).toBe(1);
    let made = 0;
    inputs.get(r2, () => (made++, new Uint8Array(1)));
    expect(made).toBe(1);
    inputs.get(r3, () => (made++, new Uint8Array(1)));
    expect(made).toBe(1);
  });

  it('hands back but does not keep a value larger than the whole budget', () => {
    const kept = new KeptForSharedRows<Uint8Array>(100);
    const r = rows();
    const big = kept.get(r, () => new Uint8Array(200));
    expect(big?.byteLength).toBe(200);
    expect(kept.size).toBe(0);
  });
});
