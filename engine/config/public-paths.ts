/**
 * Paths as answers and log lines show them: relative to the configs directory. The engine keeps
 * absolute paths inside (it reads the files), but an anonymous client of `GET /pipelines`, an error
 * body or a log reader has no use for where the server keeps its configs (`/srv/app/configs/...`,
 * a temp folder), and `explain`, spans and `?debug` already name files relative to it.
 */
import { dirname, isAbsolute, relative, sep } from 'node:path';
import type { Diagnostic } from '../errors.js';

export interface PublicPaths {
  /** A file as shown: relative to the configs directory (a file outside it keeps its path; `request body` stays). */
  file(f: string): string;
  /** A text with every mention of a path inside the configs directory made relative to it. */
  text(s: string): string;
  diagnostic<D extends Diagnostic>(d: D): D;
  /** An entry of an error answer's `errors` (a diagnostic, an input problem): its `file` and `message` as above. */
  entry(x: unknown): unknown;
  /** Anything holding `file`, `files` and `diagnostics` (a rejection, a reload event), shown relative. */
  record<R extends { readonly files?: readonly string[]; readonly diagnostics?: readonly Diagnostic[] }>(r: R): R;
}

export function publicPaths(dir: string): PublicPaths {
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  // From the root (a CLI run in `/`), paths stay as they are: cutting every '/' would garble the text.
  const root = dirname(dir) === dir;
  const file = (f: string): string => (!root && isAbsolute(f) && (f === dir || f.startsWith(prefix)) ? relative(dir, f) || '.' : f);
  const text = (s: string): string => (!root && s.includes(prefix) ? s.split(prefix).join('') : s);
  const diagnostic = <D extends Diagnostic>(d: D): D => ({ ...d, message: text(d.message), ...(d.file !== undefined ? { file: file(d.file) } : {}) });
  return {
    file,
    text,
    diagnostic,
    entry: (x) => {
      if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
      const o = x as Record<string, unknown>;
      return {
        ...o,
        ...(typeof o['message'] === 'string' ? { message: text(o['message']) } : {}),
        ...(typeof o['file'] === 'string' ? { file: file(o['file']) } : {}),
      };
    },
    record: (r) => ({
      ...r,
      ...(r.files ? { files: r.files.map(file) } : {}),
      ...(r.diagnostics ? { diagnostics: r.diagnostics.map(diagnostic) } : {}),
    }),
  };
}
