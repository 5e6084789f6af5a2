/**
 * Paths as answers and log lines show them: relative to the configs directory. The engine keeps
 * absolute paths inside (it reads the files), but an anonymous client of `GET /pipelines`, an error
 * body or a log reader has no use for where the server keeps its configs (`/srv/app/configs/...`,
 * a temp folder), and `explain`, spans and `?debug` already name files relative to it.
 *
 * A file beside or above the configs directory (`operator_paths: [../my-operators]`) is shown
 * relative to it too (`../my-operators/bad.ts`), as far as the two share a folder below the
 * filesystem root: a file with nothing but `/` in common keeps its absolute path (`/opt/ops/x.ts`
 * is no better as `../../../opt/ops/x.ts`, and in a text a bare `/word/` may be no path at all).
 * `file` and `text` follow the same rule, so a diagnostic's file and its message agree; both leave
 * a relative path as it is, so showing an already shown value changes nothing.
 */
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { Diagnostic } from '../errors.js';

export interface PublicPaths {
  /** A file as shown: relative to the configs directory (`../ops/x.ts` beside it; one sharing only `/` with it, and `request body`, stay). */
  file(f: string): string;
  /** A text with every path (or `file://` URL) that starts where `file` would cut it made relative, where a path token starts only. */
  text(s: string): string;
  diagnostic<D extends Diagnostic>(d: D): D;
  /** An entry of an error answer's `errors` (a diagnostic, an input problem): its `file` and `message` as above. */
  entry(x: unknown): unknown;
  /** Anything holding `file`, `files` and `diagnostics` (a rejection, a reload event), shown relative. */
  record<R extends { readonly files?: readonly string[]; readonly diagnostics?: readonly Diagnostic[] }>(r: R): R;
}

/** The directory itself, then the folders above it, nearest first, each with its separator; the filesystem root left out. */
function bases(dir: string): string[] {
  const out: string[] = [];
  for (let a = dir; dirname(a) !== a; a = dirname(a)) out.push(a + sep);
  return out;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where a path token may start: the text's start or a character that cannot be part of a path, a
 * URL or a word before it (`/var/srv/app`, `http://h/srv/app`, `../srv/app`, `~/srv` are left alone).
 */
const LEAD = '(^|[^\\w.~@%:/\\\\-])';

export function publicPaths(configsDir: string): PublicPaths {
  const dir = resolve(configsDir);
  // From the root (a CLI run in `/`), `bases` is empty: every path stays as it is.
  const prefixes = bases(dir);
  const inside = (f: string): boolean => f === dir || prefixes.some((p) => f.startsWith(p));
  const file = (f: string): string => (isAbsolute(f) && inside(f) ? relative(dir, f) || '.' : f);
  // One pass, longest prefix first (the directory itself, then its parent...): nothing is rewritten twice.
  // The directory named alone (`/srv/app/configs: not a directory`) is `.`, as `file` shows it.
  const alone = `${escape(dir)}(?![\\w.~@%/\\\\-])`;
  const re = prefixes.length === 0 ? undefined : new RegExp(`${LEAD}(?:file://)?(${[escape(prefixes[0]!), alone, ...prefixes.slice(1).map(escape)].join('|')})`, 'g');
  const text = (s: string): string =>
    re === undefined ? s : s.replace(re, (_m, lead: string, p: string) => lead + (p === dir ? '.' : `..${sep}`.repeat(prefixes.indexOf(p))));
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
