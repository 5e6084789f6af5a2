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

/** The files a rejection is shown under: those its attempt changed, and those its problems are in. */
export function touchedBy(r: Rejection): Set<string> {
  return new Set([...r.files, ...r.diagnostics.map((d) => d.file).filter((f): f is string => !!f)]);
}

/**
 * What each file shows after a change whose files were tried one by one: every attempt that named
 * it, merged (the files and problems of each, in order), so a later attempt does not hide an earlier one.
 */
export function rejectionsByFile(attempts: readonly Rejection[]): Map<string, Rejection> {
  const out = new Map<string, Rejection>();
  for (const a of attempts) for (const f of touchedBy(a)) {
    const r = out.get(f);
    out.set(f, r === undefined ? a : { at: r.at, files: [...new Set([...r.files, ...a.files])], diagnostics: [...r.diagnostics, ...a.diagnostics] });
  }
  return out;
}
