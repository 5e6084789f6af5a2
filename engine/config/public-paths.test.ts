import { describe, expect, it } from 'vitest';
import { publicPaths } from './public-paths.js';

describe('publicPaths', () => {
  const p = publicPaths('/srv/app/configs');

  it('shows a file inside, beside or above the configs directory relative to it', () => {
    expect(p.file('/srv/app/configs/a.yaml')).toBe('a.yaml');
    expect(p.file('/srv/app/configs')).toBe('.');
    expect(p.file('/srv/app/ops/x.ts')).toBe('../ops/x.ts');
    expect(p.file('/srv/lib/deep/y.ts')).toBe('../../lib/deep/y.ts');
    expect(p.file('/srv/app/configs-old/a.yaml')).toBe('../configs-old/a.yaml');
  });

  it('leaves a file sharing only the root, a relative one and `request body` as they are (showing twice changes nothing)', () => {
    expect(p.file('/opt/ops/x.ts')).toBe('/opt/ops/x.ts');
    expect(p.file('../ops/x.ts')).toBe('../ops/x.ts');
    expect(p.file('request body')).toBe('request body');
    expect(p.file(p.file('/srv/app/ops/x.ts'))).toBe('../ops/x.ts');
  });

  it('rewrites a text only where a whole path starts, as `file` would show it', () => {
    expect(p.text("in /srv/app/ops/x.ts:4:8 and '/srv/lib/y.ts' (see http://h/srv/app/z, /var/srv/app/w, ../srv/app/v, ~/srv/app/u)"))
      .toBe("in ../ops/x.ts:4:8 and '../../lib/y.ts' (see http://h/srv/app/z, /var/srv/app/w, ../srv/app/v, ~/srv/app/u)");
    expect(p.text('/srv/app/configs/a.yaml:1:2: see /srv/app/configs/b.yaml and /srv/app/configs-old/c.yaml'))
      .toBe('a.yaml:1:2: see b.yaml and ../configs-old/c.yaml');
    expect(p.text('/opt/ops/x.ts (at /pipeline/operations/0)')).toBe('/opt/ops/x.ts (at /pipeline/operations/0)');
    const once = p.text('in /srv/app/ops/x.ts');
    expect(p.text(once)).toBe(once);
  });

  it('a file URL is a path too; the directory named alone is `.`', () => {
    expect(p.text('at file:///srv/app/configs/ops/x.ts:3:1 and file:///srv/app/ops/y.ts')).toBe('at ops/x.ts:3:1 and ../ops/y.ts');
    expect(p.text('no /srv/app/configs: empty')).toBe('no .: empty');
  });

  it('from the filesystem root (a CLI run in `/`), nothing is rewritten', () => {
    const r = publicPaths('/');
    expect(r.file('/srv/x.yaml')).toBe('/srv/x.yaml');
    expect(r.text('in /srv/x.yaml (at /pipeline/name)')).toBe('in /srv/x.yaml (at /pipeline/name)');
  });

  it('a diagnostic, an error entry and a record get the same rewriting', () => {
    expect(p.diagnostic({ code: 'CONFIG_INVALID', message: 'in /srv/app/ops/x.ts', file: '/srv/app/ops/x.ts' })).toMatchObject({ message: 'in ../ops/x.ts', file: '../ops/x.ts' });
    expect(p.entry({ message: 'see /srv/app/configs/a.yaml', file: '/srv/app/configs/a.yaml', line: 3 })).toEqual({ message: 'see a.yaml', file: 'a.yaml', line: 3 });
    expect(p.record({ files: ['/srv/app/ops/x.ts', '/opt/y.ts'] }).files).toEqual(['../ops/x.ts', '/opt/y.ts']);
  });
});
