/**
 * Where an admin put lands on disk, and the helpers it writes with: a put never overwrites a file
 * that holds anything other than the pipeline it replaces (new pipelines get a free file name; a
 * shared file is a CONFIG_CONFLICT), and what it writes is the text as sent.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:fs';
import { access, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative } from 'node:path';
import type { Diagnostic } from '../errors.js';
import { describeEntries, entriesOf, MAX_CONFIG_BYTES, type FileEntry } from './dir.js';

/** The `file` of the diagnostics of a text sent over HTTP: their lines and columns are the body's. */
export const REQUEST_BODY = 'request body';

/** What the target of a put is chosen from: the configs directory, its texts and the loaded pipelines' files. */
export interface PutScope {
  readonly dir: string;
  readonly texts: ReadonlyMap<string, string>;
  readonly pipelines: ReadonlyMap<string, { readonly file: string }>;
}

/**
 * Where an admin put of `name` is written. A new pipeline gets `<name>.yaml`, or the first free
 * `<name>-N.yaml` when that name is taken (by any file, loaded or not, unless it already defines this
 * pipeline and nothing the new text would drop: replicas sharing a configs volume each apply an admin
 * change to the same file, and one that found another's file not loaded yet, with the same or a
 * concurrent text, wrote a second file defining the pipeline beside it, a DUPLICATE_NAME on every
 * replica for good). A loaded one replaces its file only when the new text drops nothing else the file
 * defines; otherwise the answer is a CONFIG_CONFLICT naming the file and what else it holds, and
 * nothing is written.
 */
export function putTarget(scope: PutScope, name: string, text: string): { file: string; drop?: string } | Diagnostic {
  const existing = scope.pipelines.get(name)?.file;
  if (existing === undefined) return { file: freeFile(scope, name, text) };
  const others = dropped(scope.texts.get(existing) ?? '', name, text);
  if (others.length > 0) return sharedFileConflict(scope.dir, name, existing, describeEntries(others));
  // JSON files must stay JSON (a top-level `[` is data): YAML text replacing one moves to a .yaml file.
  if (extname(existing).toLowerCase() === '.json' && !isJsonText(text)) return { file: freeFile(scope, name, text), drop: existing };
  return { file: existing };
}

function freeFile(scope: PutScope, name: string, text: string): string {
  for (let i = 1; ; i++) {
    const f = join(scope.dir, i === 1 ? `${name}.yaml` : `${name}-${i}.yaml`);
    if (!scope.texts.has(f) && !existsSync(f)) return f;
    const held = textOf(scope, f);
    if (held === text) return f;
    if (held !== undefined && entriesOf(held).some((e) => e.kind === 'pipeline' && e.name === name) && dropped(held, name, text).length === 0) return f;
  }
}

/** What a file holding `held` defines besides pipeline `name` that `text`, written over it, would not define again. */
function dropped(held: string, name: string, text: string): FileEntry[] {
  const kept = new Set(entriesOf(text).map((e) => `${e.kind}\0${e.name}`));
  return entriesOf(held).filter((e) => !(e.kind === 'pipeline' && e.name === name) && !kept.has(`${e.kind}\0${e.name}`));
}

/** The text of `file` (loaded, or a regular config-sized file only on disk), or undefined. */
function textOf(scope: PutScope, file: string): string | undefined {
  const loaded = scope.texts.get(file);
  if (loaded !== undefined) return loaded;
  try {
    const st = statSync(file);
    return st.isFile() && st.size <= MAX_CONFIG_BYTES ? readFileSync(file, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** A put or delete of `name` refused because its file holds `what` too. */
export function sharedFileConflict(dir: string, name: string, file: string, what: string): Diagnostic {
  return { code: 'CONFIG_CONFLICT', file, message: `pipeline '${name}' shares ${relative(dir, file)} with ${what}; edit that file instead` };
}

/** Diagnostics of the file a sent text was checked as, relabelled: their lines and columns are the request body's. */
export function asBody(diags: Diagnostic[], file: string): Diagnostic[] {
  return diags.map((d) => (d.file === file ? { ...d, file: REQUEST_BODY } : d));
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * An admin put's text, written beside its target before anything is applied, so that a directory
 * that cannot be written (a ConfigMap or other read-only mount, no permission, a full disk) refuses
 * the change with CONFIGS_NOT_WRITABLE before it serves for a moment and is undone by the next scan.
 * `commit` renames it into place (an atomic replace), `discard` removes it.
 */
export async function stageWrite(dir: string, file: string, text: string): Promise<{ commit(): Promise<void>; discard(): Promise<void> } | Diagnostic> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`; // not a config name: no scan reads it
  try {
    await writeFile(tmp, text, { flag: 'wx' });
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    return notWritable(dir, file, err);
  }
  return { commit: () => rename(tmp, file), discard: () => rm(tmp, { force: true }).catch(() => undefined) };
}

/**
 * Whether the folder of `file` can be written, or why not: removing the file needs it, and so does
 * replacing it (stageWrite writes beside it, then renames). Writes nothing (a dry run asks it).
 */
export async function checkFolderWritable(dir: string, file: string): Promise<Diagnostic | undefined> {
  return access(dirname(file), constants.W_OK).then(() => undefined, (err: unknown) => notWritable(dir, file, err));
}

export function notWritable(dir: string, file: string, err: unknown): Diagnostic {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return { code: 'CONFIGS_NOT_WRITABLE', file, message: `the configs directory cannot be written (${code} on ${relative(dir, file)}), so nothing was saved or applied and the served version is unchanged; change the configs at their source (a read-only mount, such as a ConfigMap) or serve a writable copy` };
}
