/**
 * The executor's first fold: the union of the sources' ids minus the excluded
 * ids, as a new frame (with the extra columns sources answered).
 */
import type { Column, SourceResult } from './api.js';
import { isNumeric, valueAt } from './api.js';
import { WorkFrame } from './frame.js';

/** Union of source ids (first occurrence wins, order kept) minus excluded ids, as a new frame (extra columns: see finish). */
export function unionMinus(key: string, includes: readonly SourceResult[], excludes: readonly SourceResult[]): { frame: WorkFrame; rows: Int32Array } {
  const allInt = [...includes, ...excludes].every((r) => r.ids instanceof Int32Array);
  const origin: { src: number; at: number }[] | undefined = includes.some((r) => r.columns && Object.keys(r.columns).length) ? [] : undefined;
  let idCol: Column;
  if (allInt) {
    let max = 0;
    for (const r of [...includes, ...excludes]) for (const v of r.ids as Int32Array) if (v > max) max = v;
    let min = 0;
    for (const r of includes) for (const v of r.ids as Int32Array) if (v < min) min = v;
    if (min >= 0 && max < 64 * 1024 * 1024) {
      const seen = new Uint8Array(max + 1);
      for (const r of excludes) for (const v of r.ids as Int32Array) seen[v] = 1;
      let total = 0;
      for (const r of includes) total += r.ids.length;
      const ids = new Int32Array(total);
      let n = 0;
      includes.forEach((r, src) => {
        const a = r.ids as Int32Array;
        for (let i = 0; i < a.length; i++) {
          const v = a[i]!;
          if (seen[v] === 0) {
            seen[v] = 1;
            ids[n++] = v;
            origin?.push({ src, at: i });
          }
        }
      });
      idCol = ids.slice(0, n);
      return finish(key, idCol, includes, origin);
    }
  }
  // Without an items dataset to type the ids (source-ids.ts), 2 and "2" are one item once any id is text.
  const textual = [...includes, ...excludes].some((r) => Array.isArray(r.ids) && r.ids.some((v) => typeof v === 'string'));
  const keyOf = textual ? String : (v: string | number): string | number => v;
  const removed = new Set<string | number>();
  for (const r of excludes) for (const v of r.ids) removed.add(keyOf(v));
  const seen = new Set<string | number>();
  const ids: (string | number)[] = [];
  includes.forEach((r, src) => {
    for (let i = 0; i < r.ids.length; i++) {
      const v = r.ids[i]!;
      const k = keyOf(v);
      if (removed.has(k) || seen.has(k)) continue;
      seen.add(k);
      ids.push(v);
      origin?.push({ src, at: i });
    }
  });
  idCol = ids.every((v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 31)
    ? Int32Array.from(ids as number[])
    : ids.every((v) => typeof v === 'number')
      ? Float64Array.from(ids as number[])
      : { kind: 'string', values: ids.map(String) };
  return finish(key, idCol, includes, origin);
}

function finish(key: string, idCol: Column, includes: readonly SourceResult[], origin: { src: number; at: number }[] | undefined): { frame: WorkFrame; rows: Int32Array } {
  const n = isNumeric(idCol) ? idCol.length : idCol.kind === 'dict' ? idCol.codes.length : idCol.values.length;
  const frame = new WorkFrame(key, n, { [key]: idCol });
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  if (origin) {
    // Extra columns from sources: each row takes its values from the first source that produced it
    // and answered that column (a Static list before a Lookup that brings `tag` does not blank its tags).
    const names = new Set(includes.flatMap((r) => Object.keys(r.columns ?? {})));
    const positions: (Map<string, number> | undefined)[] = [];
    const positionIn = (src: number, id: string): number | undefined => {
      let m = positions[src];
      if (!m) {
        m = new Map();
        const ids = includes[src]!.ids;
        for (let i = ids.length - 1; i >= 0; i--) m.set(String(ids[i]), i);
        positions[src] = m;
      }
      return m.get(id);
    };
    for (const name of names) {
      if (name === key) continue;
      const srcCols = includes.map((r) => r.columns?.[name]);
      const proto = srcCols.find((c) => c !== undefined)!;
      const picks = new Int32Array(n);
      const from = new Int32Array(n).fill(-1);
      origin.forEach((o, i) => {
        if (srcCols[o.src]) {
          picks[i] = o.at;
          from[i] = o.src;
          return;
        }
        const id = String(valueAt(idCol, i));
        for (let src = o.src + 1; src < includes.length; src++) {
          const at = srcCols[src] ? positionIn(src, id) : undefined;
          if (at !== undefined) {
            picks[i] = at;
            from[i] = src;
            return;
          }
        }
      });
      const values: (string | number | null)[] = new Array(n);
      for (let i = 0; i < n; i++) values[i] = from[i]! >= 0 ? valueAt(srcCols[from[i]!]!, picks[i]!) : null;
      frame.set(name, isNumeric(proto) ? Float64Array.from(values, (v) => (typeof v === 'number' ? v : NaN)) : { kind: 'string', values: values.map((v) => (v === null ? null : String(v))) });
    }
  }
  return { frame, rows };
}
