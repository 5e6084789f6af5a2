/**
 * Run-time side of registry models: a ModelRef naming a binding is swapped for the model that
 * binding pointed at when the request started (the table the request carries), and the step that
 * used it is recorded so the response can say which model version produced each score.
 */
import type { ModelRef } from '../api.js';
import { AirmailError } from '../errors.js';

export type ModelTable = Readonly<Record<string, ModelRef>>;

export function bindModel(ref: ModelRef, table: ModelTable | undefined, used: Record<string, string>, step: { readonly output?: string; readonly label: string } | undefined): ModelRef {
  if (ref.binding === undefined) return ref;
  const bound = table?.[ref.binding];
  if (!bound) throw new AirmailError('MODEL_LOAD_FAILED', `registry model ${ref.binding} is not loaded in this engine (start it with --registry)`);
  used[step?.output ?? step?.label ?? ref.binding] = bound.version;
  // The binding stays on the ref so a worker can tell a moved binding from a new model (and release the old session).
  return { ...bound, binding: ref.binding };
}

/** `{models}` for an ExecOutput when any registry model was used. */
export function modelsUsed(used: Record<string, string>): { models?: Readonly<Record<string, string>> } {
  return Object.keys(used).length > 0 ? { models: used } : {};
}
