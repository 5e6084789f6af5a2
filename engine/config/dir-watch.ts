/**
 * Notices changes in the configs directory as they happen. An fs.watch is tied to the directory it
 * was opened on (its inode), not to the path: once the directory is deleted and made again (`rm -rf
 * configs && cp -r new configs`), or the path is a link swapped to another directory (a release
 * switch), the old watch hears nothing more and only the slow poll saw edits, well past the
 * second a reload is promised in. So the path's identity is checked every IDENTITY_CHECK_MS (one
 * stat) and the watch is opened again on whatever directory the path names now, with a change
 * reported at once (the new directory's files are news). Files read from elsewhere (datasets in
 * `data/`, which no watch of the directory hears) are checked at the same pace through `moved`.
 */
import { statSync, watch, type Stats, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

/** How often the directory's identity is checked (a stat, so cheap enough to do often). */
export const IDENTITY_CHECK_MS = 100;

export class DirWatcher {
  private watcher: FSWatcher | undefined;
  /** The identity (see identity()) of the directory last seen at the path (undefined: none was there). */
  private seenId: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private checking = false;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly onChange: () => void,
    /** Whether files outside the directory that the configs read have changed. */
    private readonly moved: () => Promise<boolean> = async () => false,
  ) {
    this.timer = setInterval(() => void this.check(), IDENTITY_CHECK_MS);
    this.timer.unref();
    // The first watch is opened at once, so no change made right after start is missed.
    this.open(identity(statSync(this.dir, { throwIfNoEntry: false })));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      const id = identity(await stat(this.dir).catch(() => undefined));
      if (this.closed) return;
      if (id !== this.seenId) {
        this.open(id);
        this.onChange();
      } else if (await this.moved().catch(() => false)) this.onChange();
    } finally {
      this.checking = false;
    }
  }

  /** Opens the watch on the directory now at the path (identity `id`; undefined: none is there). */
  private open(id: string | undefined): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.seenId = id;
    if (id === undefined) return; // gone for now: checked again until it is back
    try {
      const self = basename(this.dir);
      const w = watch(this.dir, { persistent: false }, (event, name) => {
        // The directory itself was removed or moved (its own name, as a 'rename'): this watch is
        // over, and the next check opens one on whatever is at the path then, even when a new
        // directory there got the old one's inode number back.
        if (event === 'rename' && name === self && this.watcher === w) this.seenId = undefined;
        this.onChange();
      });
      // A watch that fails is opened again at the next check.
      w.on('error', () => {
        w.close();
        if (this.watcher === w) this.watcher = this.seenId = undefined;
      });
      this.watcher = w;
    } catch {
      // Cannot be watched (inotify limits): the poll still sees changes.
    }
  }
}

/** A directory's identity: its inode, and its birth time where the file system keeps one (inode numbers are reused). */
function identity(st: Stats | undefined): string | undefined {
  return st?.isDirectory() ? `${st.dev}:${st.ino}:${st.birthtimeMs}` : undefined;
}
