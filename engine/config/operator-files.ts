/**
 * Custom operator files (`operator_paths:`): importing a folder of them, and saying what is wrong
 * with one in the author's terms — the file and line of a syntax error or of a throw while the
 * module ran, and which export is a malformed definition (a bad `kind`, no `run`, a `parameters`
 * that is no JSON Schema). A broken file is reported and skipped; the other files of the folder
 * still load, so one mistake does not make every operator of the folder "not installed".
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { OperatorDefinition } from '../api.js';
import { registerOperatorHooks } from '../operator-hooks.js';
import { newAjv } from './validators.js';

/** A problem of one operator file, located in that file where it can be. */
export interface OperatorFileProblem {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
}

export interface OperatorModule {
  /** The import URL (file URL plus `?v=` content hash). */
  readonly url: string;
  readonly file: string;
  readonly defs: OperatorDefinition[];
}

const OPERATOR_FILE = /\.(m?js|ts)$/;
const KINDS = ['source', 'filter', 'score', 'transform'];

export function isOperatorDefinition(v: unknown): v is OperatorDefinition {
  const d = v as Partial<OperatorDefinition> | null;
  return !!d && typeof d === 'object' && typeof d.name === 'string' && typeof d.run === 'function' && typeof d.parameters === 'object' &&
    KINDS.includes(d.kind as string);
}

/** An export that means to be an operator: an object with a `kind` and a `name`, `run` or `parameters`. */
function looksLikeOperator(v: unknown): v is Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const d = v as Record<string, unknown>;
  return 'kind' in d && ('name' in d || 'run' in d || 'parameters' in d);
}

/** The operator files of a folder, by name, sorted (not recursive; tests and .d.ts skipped). */
export async function operatorFileNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => OPERATOR_FILE.test(n) && !n.includes('.test.') && !n.endsWith('.d.ts')).sort();
}

let tsxRegistered: Promise<unknown> | undefined;

/**
 * The URL an operator file is imported by: its file URL plus a hash of its content (`?v=...`).
 * ES modules are cached by URL for the life of the process, so an edited file gets a new URL and
 * is imported anew on the next reload, on the main thread and in the workers; an unchanged file
 * keeps its URL and its module. (Files it imports itself are cached by their own URLs: edit those
 * and the operator file, or restart.)
 */
export async function operatorFileUrl(path: string): Promise<string> {
  const v = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
  return `${pathToFileURL(path).href}?v=${v}`;
}

/**
 * The content-hash URL an operator module loaded by `url` would have now ('' when its file is gone),
 * or undefined for a module not loaded from a file by content hash.
 */
export async function operatorFileVersion(url: string): Promise<string | undefined> {
  const u = new URL(url);
  if (u.protocol !== 'file:' || !u.searchParams.has('v')) return undefined;
  return operatorFileUrl(fileURLToPath(u)).catch(() => '');
}

async function importModule(url: string): Promise<Record<string, unknown>> {
  if (new URL(url).pathname.endsWith('.ts') && !import.meta.url.endsWith('.ts')) {
    tsxRegistered ??= import('tsx/esm/api').then((m) => m.register());
    await tsxRegistered;
  }
  return (await import(url)) as Record<string, unknown>;
}

function exportedValues(mod: Record<string, unknown>): [string, unknown][] {
  return Object.entries(mod).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x, i): [string, unknown] => [`${k}[${i}]`, x]) : [[k, v] as [string, unknown]]));
}

/** The operator definitions a module exports (what a worker imports; the main thread has checked them). */
export async function importOperatorModule(url: string): Promise<OperatorDefinition[]> {
  const defs = exportedValues(await importModule(url)).map(([, v]) => v).filter(isOperatorDefinition);
  return [...new Set(defs)];
}

/** What is wrong with an export that means to be an operator definition, as sentences (none: it is sound). */
export function definitionProblems(v: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof v['name'] !== 'string' || v['name'] === '') out.push(`'name' must be a non-empty string, not ${JSON.stringify(v['name']) ?? 'undefined'}`);
  if (!KINDS.includes(v['kind'] as string)) out.push(`'kind' must be one of ${KINDS.map((k) => `'${k}'`).join(', ')}, not ${JSON.stringify(v['kind']) ?? 'undefined'}`);
  if (typeof v['run'] !== 'function') out.push(`'run' must be a function, not ${v['run'] === undefined ? 'missing' : typeof v['run']}`);
  const params = v['parameters'];
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    out.push(`'parameters' must be a JSON Schema object (for no parameters: {type: 'object', additionalProperties: false}), not ${params === undefined ? 'missing' : JSON.stringify(params)}`);
  } else {
    const ajv = newAjv();
    const meta = ajv.validateSchema(params) as boolean;
    const wrong = new Map<string, string>();
    for (const e of meta ? [] : ajv.errors ?? []) {
      const at = e.instancePath || '/';
      if (e.keyword === 'anyOf' || wrong.has(at)) continue;
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
      wrong.set(at, allowed ? `${JSON.stringify(e.data)} is not one of ${allowed.map((x) => JSON.stringify(x)).join(', ')}` : `${e.message ?? e.keyword}`);
    }
    if (wrong.size > 0) out.push(`'parameters' is not a valid JSON Schema: ${[...wrong].map(([at, why]) => `at ${at}: ${why}`).join('; ')}`);
    else try {
      ajv.compile(params);
    } catch (err) {
      out.push(`'parameters' is not a valid JSON Schema: ${(err as Error).message.replace(/^schema is invalid: /, '')}`);
    }
  }
  return out;
}

/** What was thrown, as text, whatever it is (an Error, null, an object whose getters throw). */
export function thrownText(err: unknown): string {
  try {
    if (err instanceof Error) return `${err.name}: ${err.message}`;
    return err === null || err === undefined ? String(err) : `${typeof err} ${JSON.stringify(err) ?? String(err)}`.slice(0, 200);
  } catch {
    return 'a value that cannot be shown';
  }
}

/** Where in `file` an error raised while importing it points: its syntax error's location, or the first stack frame in the file. */
async function locateImportError(err: unknown, file: string, url: string): Promise<{ line?: number; col?: number; message: string }> {
  const e = err as { name?: string; message?: string; stack?: string } | null;
  const message = `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(err)}`;
  if (e?.name === 'SyntaxError') {
    // Node 20 drops a dynamic import's syntax error location; esbuild finds the same mistake with it.
    try {
      const { transform } = await import('esbuild');
      await transform(await readFile(file, 'utf8'), { loader: file.endsWith('.ts') ? 'ts' : 'js', format: 'esm', sourcefile: file, logLevel: 'silent' });
    } catch (found) {
      const first = (found as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors?.[0];
      if (first?.location) return { line: first.location.line, col: first.location.column + 1, message: `SyntaxError: ${first.text}` };
    }
    return { message };
  }
  // tsx reports a TypeScript syntax error as "Transform failed ... FILE:LINE:COL: ERROR: text".
  const ts = /:(\d+):(\d+): ERROR: (.*)/.exec(e?.message ?? '');
  if (ts) return { line: Number(ts[1]), col: Number(ts[2]) + 1, message: `SyntaxError: ${ts[3]}` };
  // A package that is not installed: the line that imports it.
  const pkg = /^Cannot find (?:package|module) '([^']+)'/.exec(e?.message ?? '')?.[1];
  if (pkg) {
    const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n');
    const i = lines.findIndex((l) => l.includes(`'${pkg}'`) || l.includes(`"${pkg}"`));
    if (i >= 0) return { line: i + 1, col: lines[i]!.indexOf(pkg) + 1, message: `${message} (install it where Node resolves it from this file, or bundle it in)` };
  }
  const base = url.replace(/\?.*$/, '');
  for (const frame of (e?.stack ?? '').split('\n').slice(1)) {
    const m = /(file:\/\/[^\s()]+?)(?:\?[^\s():]*)?:(\d+):(\d+)\)?\s*$/.exec(frame);
    if (m && m[1] === base) return { line: Number(m[2]), col: Number(m[3]), message };
  }
  return { message };
}

/**
 * Import every operator module of a folder (not recursive; tests and .d.ts skipped). A file that
 * fails to import, and an export that means to be an operator but is malformed, are problems; the
 * sound operators of every file are returned all the same.
 */
export async function importOperatorFolder(dir: string): Promise<{ modules: OperatorModule[]; problems: OperatorFileProblem[]; tried: string[] }> {
  const names = await operatorFileNames(dir);
  // Operator files import 'airmail/engine/api.js' and may be ES modules with no package.json: the
  // hooks that allow it go in only now (registering starts a loader thread; most configs need none).
  if (names.length > 0) registerOperatorHooks();
  const modules: OperatorModule[] = [];
  const problems: OperatorFileProblem[] = [];
  // Every version imported, a broken one included (the watch must not report it as a change).
  const tried: string[] = [];
  for (const n of names) {
    const file = join(dir, n);
    // Only regular files are imported: importing a named pipe would never finish.
    if (!(await stat(file).catch(() => undefined))?.isFile()) continue;
    const url = await operatorFileUrl(file);
    tried.push(url);
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(url);
    } catch (err) {
      const where = await locateImportError(err, file, url);
      problems.push({ file, ...where, message: `operator file ${n} failed to load: ${where.message}` });
      continue;
    }
    const defs: OperatorDefinition[] = [];
    let exportName = '';
    try {
      for (const [name, v] of exportedValues(mod)) {
        exportName = name;
        if (!looksLikeOperator(v)) continue;
        const wrong = definitionProblems(v);
        const what = `export '${exportName}'${typeof v['name'] === 'string' ? ` (operator '${v['name']}')` : ''} of ${n}`;
        if (wrong.length > 0) problems.push({ file, message: `${what} is not a usable operator definition: ${wrong.join('; ')}` });
        else if (isOperatorDefinition(v)) defs.push(v);
      }
    } catch (err) {
      // A getter of the definition that throws (anything, null included) is the file's problem, named as such.
      problems.push({ file, message: `export '${exportName}' of ${n} could not be read as an operator definition: reading it threw ${thrownText(err)}` });
      continue;
    }
    modules.push({ url, file, defs: [...new Set(defs)] });
  }
  return { modules, problems, tried };
}

/**
 * Which operator files changed since they were loaded: a loaded one edited or removed, a file added
 * to an `operator_paths` folder, or one that failed to load and was fixed. Each version is reported
 * once (a broken edit is not retried every poll; editing it again is a new version).
 */
export class OperatorFileWatch {
  /** Operator file versions (content-hash URLs) already reported. */
  private readonly tried = new Set<string>();
  /** Every `operator_paths` folder a load has named, whether that load succeeded or not. */
  private readonly dirs = new Set<string>();

  /**
   * `tried`: the operator file versions a load just imported. A load that failed imported them too:
   * without this, the first poll after a failed start took its files for new ones and reloaded,
   * logging the broken file as an applied change.
   */
  folders(dirs: Iterable<string> | undefined, tried: Iterable<string> = []): void {
    for (const dir of dirs ?? []) this.dirs.add(dir);
    for (const url of tried) this.tried.add(url);
  }

  /** `loadedUrls`: the served snapshot's operator modules; `restored` is told of one back to the text that serves. */
  async changed(loadedUrls: readonly string[], restored: (file: string) => void): Promise<string[]> {
    const out: string[] = [];
    for (const url of loadedUrls) {
      const now = await operatorFileVersion(url);
      // Back to the text that serves (a broken edit undone): its rejection goes, as a config file's does.
      if (now === url) restored(fileURLToPath(new URL(url)));
      if (now === undefined || now === url || this.tried.has(now)) continue;
      this.tried.add(now);
      out.push(fileURLToPath(new URL(url)));
    }
    // Loaded files were read just above: the folders add only files that are not loaded.
    const seen = new Set(loadedUrls.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(new URL(url))));
    for (const dir of this.dirs) {
      for (const name of await operatorFileNames(dir).catch(() => [])) {
        const file = join(dir, name);
        if (seen.has(file)) continue;
        const now = await operatorFileUrl(file).catch(() => undefined);
        if (now === undefined || this.tried.has(now)) continue;
        this.tried.add(now);
        out.push(file);
      }
    }
    return out;
  }
}
