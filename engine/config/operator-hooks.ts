/**
 * An operator's load-time hooks (check, verify, reads, writes, compares, writeTypes) run its
 * author's code: one that throws (reading a parameter that is not there) is a problem of the step
 * that uses it, reported like any other, not the end of the load, which took a server down at start.
 */
import { AirmailError, type ErrorCode } from '../errors.js';

class HookError extends Error {
  constructor(readonly hook: string, override readonly cause: unknown) {
    super(`the operator's ${hook}() threw`);
  }
}

/** `fn()`; a throw is marked as the operator's `name` hook's (see hookProblem). */
export function hook<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new HookError(name, err);
  }
}

export async function hookAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new HookError(name, err);
  }
}

/** The problem a hook's throw is (a coded error keeps its code); anything else is thrown again. */
export function hookProblem(err: unknown, operator: string): { code: ErrorCode; message: string } {
  if (!(err instanceof HookError)) throw err;
  const e = err.cause;
  if (e instanceof AirmailError) return { code: e.code, message: e.message };
  return { code: 'CONFIG_INVALID', message: `${operator}: the operator's ${err.hook}() threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
}
