/**
 * The admin API's writes to the configs directory (POST/DELETE /pipelines, a replica applying one,
 * and the dry run of a put): plan the candidate set, have the store compile and serve it, and write
 * or remove the file only once it is good, undoing the swap when the disk refuses after all.
 * The store (config-store.ts) owns the snapshot and its reloads; this is the one path by which a
 * request, rather than the directory, changes what it serves, so it lives apart from the watching.
 */
import { rm } from 'node:fs/promises';
import type { Diagnostic } from '../errors.js';
import { describeEntries, entriesOf } from './dir.js';
import { asBody, checkFolderWritable, notWritable, putTarget, sharedFileConflict, stageWrite } from './admin-target.js';
import type { AdminChange } from './store-events.js';

/** How an admin proposal is recorded (ConfigStore.proposeInner's options). */
export interface AdminProposal {
  readonly recordHash?: boolean;
  readonly sealed?: ReadonlySet<string>;
  readonly keep?: boolean;
  readonly quiet?: boolean;
}

/** What the admin writes need of the config store. */
export interface AdminStore {
  readonly dir: string;
  /** The served texts, by file. */
  texts(): ReadonlyMap<string, string>;
  /** The served pipelines' files, by pipeline name. */
  pipelines(): ReadonlyMap<string, { readonly file: string }>;
  /** Runs `fn` once every change before it is done: changes never interleave. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** Loads `next` and serves it if it is good; else its problems. */
  propose(next: Map<string, string>, changed: string[], opts: AdminProposal): Promise<Diagnostic[]>;
  /** The problems `next` would have, `sealed` files read as sent over HTTP; serves nothing. */
  check(next: Map<string, string>, sealed: ReadonlySet<string>): Promise<Diagnostic[]>;
  /** Tells the store's onAdmin listeners of an applied change. */
  announce(change: AdminChange): void;
}

export class AdminWrites {
  constructor(private readonly store: AdminStore) {}

  /**
   * Dry run of an admin put of `name`: exactly what put() would answer (the same target file, the
   * same conflict, every problem of the candidate set, located in the text as sent), applying nothing.
   */
  async validatePut(name: string, text: string): Promise<Diagnostic[]> {
    const plan = this.planPut(name, text);
    if ('code' in plan) return [plan];
    // put() writes beside the file before it compiles: a folder it cannot write is its answer first.
    const ro = await checkFolderWritable(this.store.dir, plan.file) ?? (plan.drop ? await checkFolderWritable(this.store.dir, plan.drop) : undefined);
    if (ro) return [ro];
    return asBody(await this.store.check(plan.next, new Set([plan.file])), plan.file);
  }

  /** Admin: write `text` (as sent) to the pipeline's file (see putTarget()) if, and only if, the set still compiles. */
  put(name: string, text: string, origin?: string): Promise<Diagnostic[]> {
    return this.store.serial(async () => {
      const plan = this.planPut(name, text);
      if ('code' in plan) return [plan];
      // Sent over HTTP: it may name installed operators, loaded datasets and registry models only.
      // A refused request is answered (and audited), not kept as a rejection of the served files;
      // a replica that cannot apply another's change keeps it, as that replica now differs.
      // Written first (beside the file), so a directory that cannot be written refuses it before it serves.
      const staged = await stageWrite(this.store.dir, plan.file, text);
      if ('code' in staged) return [staged];
      const before = new Map(this.store.texts());
      const diags = await this.store.propose(plan.next, plan.changed, { recordHash: false, sealed: new Set([plan.file]), keep: origin !== undefined });
      if (diags.length > 0) {
        await staged.discard();
        return asBody(diags, plan.file);
      }
      try {
        await staged.commit();
        if (plan.drop) await rm(plan.drop, { force: true });
      } catch (err) {
        await staged.discard();
        return this.undo(before, plan.changed, notWritable(this.store.dir, plan.file, err));
      }
      this.store.announce({ op: 'put', name, text, ...(origin ? { origin } : {}) });
      return [];
    });
  }

  /** Admin: remove a pipeline's file (it must hold only that pipeline). */
  remove(name: string, origin?: string): Promise<Diagnostic[] | 'not-found'> {
    return this.store.serial(async () => {
      const p = this.store.pipelines().get(name);
      if (!p) return 'not-found';
      const others = entriesOf(this.store.texts().get(p.file) ?? '').filter((e) => !(e.kind === 'pipeline' && e.name === name));
      if (others.length > 0) return [sharedFileConflict(this.store.dir, name, p.file, describeEntries(others))];
      // A file that cannot be removed (a read-only mount) is refused before the pipeline stops serving.
      const ro = await checkFolderWritable(this.store.dir, p.file);
      if (ro) return [ro];
      const before = new Map(this.store.texts());
      const next = new Map(this.store.texts());
      next.delete(p.file);
      const diags = await this.store.propose(next, [p.file], { recordHash: false, keep: origin !== undefined });
      if (diags.length > 0) return diags;
      try {
        await rm(p.file, { force: true });
      } catch (err) {
        return this.undo(before, [p.file], notWritable(this.store.dir, p.file, err));
      }
      this.store.announce({ op: 'remove', name, ...(origin ? { origin } : {}) });
      return [];
    });
  }

  /** The candidate set of an admin put of `name`, or why there is none. */
  private planPut(name: string, text: string): { file: string; next: Map<string, string>; changed: string[]; drop?: string } | Diagnostic {
    const texts = this.store.texts();
    const t = putTarget({ dir: this.store.dir, texts, pipelines: this.store.pipelines() }, name, text);
    if ('code' in t) return t;
    const next = new Map(texts);
    if (t.drop) next.delete(t.drop);
    next.set(t.file, text);
    return { file: t.file, next, changed: t.drop ? [t.file, t.drop] : [t.file], ...(t.drop ? { drop: t.drop } : {}) };
  }

  /** An applied admin change whose file could not be written after all: the texts before it serve again. */
  private async undo(before: Map<string, string>, changed: string[], why: Diagnostic): Promise<Diagnostic[]> {
    await this.store.propose(before, changed, { recordHash: false, keep: false, quiet: true });
    return [why];
  }
}
