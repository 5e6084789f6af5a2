/**
 * Two replicas sharing one configs volume and one Redis each apply an admin POST /pipelines: the
 * one that was asked writes `newp.yaml`, and the other, applying the replicated change before its
 * watcher had loaded that file, found the name taken and wrote `newp-2.yaml` with the same text,
 * so both replicas then logged `pipeline 'newp' is also defined in ...` rejections and kept a stray file.
 * The same happened when two replicas were sent different texts of it at once: the second found the
 * first one's file with another text. A file that defines only this pipeline is its file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { putTarget } from './admin-target.js';

const dir = mkdtempSync(join(tmpdir(), 'airmail-admin-target-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = 'pipeline:\n  name: newp\n  item_type: sku_id\n';
const empty = { dir, texts: new Map<string, string>(), pipelines: new Map<string, { file: string }>() };

describe('putTarget on a shared configs volume', () => {
  it("reuses a file not loaded yet that already holds exactly this text (another replica's write)", () => {
    writeFileSync(join(dir, 'newp.yaml'), text);
    expect(putTarget(empty, 'newp', text)).toEqual({ file: join(dir, 'newp.yaml') });
  });
  it("replaces a file not loaded yet that defines only this pipeline with another text (a concurrent put on another replica)", () => {
    expect(putTarget(empty, 'newp', `${text}  description: other\n`)).toEqual({ file: join(dir, 'newp.yaml') });
  });
  it('still picks a free name when the file defines anything else the text does not', () => {
    writeFileSync(join(dir, 'both.yaml'), 'pipelines:\n  - {name: both, item_type: sku_id}\n  - {name: other, item_type: sku_id}\n');
    expect(putTarget(empty, 'both', 'pipeline:\n  name: both\n  item_type: sku_id\n')).toEqual({ file: join(dir, 'both-2.yaml') });
    writeFileSync(join(dir, 'notit.yaml'), 'pipeline:\n  name: someone_else\n  item_type: sku_id\n');
    expect(putTarget(empty, 'notit', 'pipeline:\n  name: notit\n  item_type: sku_id\n')).toEqual({ file: join(dir, 'notit-2.yaml') });
    writeFileSync(join(dir, 'broken.yaml'), 'pipeline: [\n');
    expect(putTarget(empty, 'broken', 'pipeline:\n  name: broken\n  item_type: sku_id\n')).toEqual({ file: join(dir, 'broken-2.yaml') });
  });
  it('never reads from something that is not a regular file', () => {
    execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
    expect(putTarget(empty, 'fifo', text)).toEqual({ file: join(dir, 'fifo-2.yaml') });
  });
});
