import { describe, expect, it } from 'vitest';
import { AirmailError } from './errors.js';

describe('AirmailError.withoutStack', () => {
  it('is the same error with no frames captured, and leaves the stack limit as it was', () => {
    const before = Error.stackTraceLimit;
    const err = AirmailError.withoutStack('OVERLOADED', 'the worker queue is full (3 waiting)', { details: { retryAfterMs: 12 } });
    expect(err).toBeInstanceOf(AirmailError);
    expect([err.code, err.status, err.message, err.details]).toEqual(['OVERLOADED', 503, 'the worker queue is full (3 waiting)', { retryAfterMs: 12 }]);
    expect(err.stack).not.toMatch(/\n\s+at /);
    expect(new AirmailError('OVERLOADED', 'x').stack).toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(before);
  });
});
