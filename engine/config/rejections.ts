/** What GET /pipelines keeps of refused reload attempts, keyed by each file an attempt touched. */
import type { Diagnostic } from '../errors.js';

export interface Rejection {
  readonly at: string;
  readonly files: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Forgets what `gone` files were rejected for: their keys go, and a rejection shared with files
 * still here (one attempt refused several) loses the `deleted` files and their problems, so it no
 * longer names them; one left with no problem goes.
 */
export function forgetRejections(rejections: Map<string, Rejection>, gone: (f: string) => boolean, deleted: (f: string) => boolean): void {
  const pruned = new Map<Rejection, Rejection | undefined>();
  const prune = (r: Rejection): Rejection | undefined => {
    if (!r.files.some(deleted) && !r.diagnostics.some((d) => d.file !== undefined && deleted(d.file))) return r;
    const diagnostics = r.diagnostics.filter((d) => d.file === undefined || !deleted(d.file));
    return diagnostics.length === 0 ? undefined : { at: r.at, files: r.files.filter((f) => !deleted(f)), diagnostics };
  };
  for (const [f, r] of [...rejections]) {
    if (!pruned.has(r)) pruned.set(r, prune(r));
    const now = gone(f) ? undefined : pruned.get(r);
    if (now === undefined) rejections.delete(f);
    else if (now !== r) rejections.set(f, now);
  }
}
