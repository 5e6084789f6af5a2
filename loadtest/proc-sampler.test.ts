import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { readProcSample, startProcSampler } from './proc-sampler.js';

const linux = process.platform === 'linux';

describe.runIf(linux)('proc sampler', () => {
  it('reads CPU and RSS of a real busy child process', async () => {
    // The child holds ~64 MiB and spins, so both numbers are clearly non-zero.
    const child = spawn(process.execPath, [
      '-e',
      'const b = Buffer.alloc(64 * 1024 * 1024, 1); process.stdout.write("ready\\n"); const end = Date.now() + 5000; while (Date.now() < end) { b[0]++; }',
    ]);
    try {
      await once(child.stdout, 'data');
      const pid = child.pid!;
      const one = readProcSample(pid);
      expect(one).toBeDefined();
      expect(one!.rssMb).toBeGreaterThan(40);
      const sampler = startProcSampler(pid, 50);
      await new Promise((r) => setTimeout(r, 600));
      const usage = sampler.stop();
      expect(usage).toBeDefined();
      expect(usage!.pid).toBe(pid);
      expect(usage!.samples).toBeGreaterThanOrEqual(3);
      expect(usage!.peakRssMb).toBeGreaterThan(40);
      // A spinning process uses most of a core; broad bound against noisy CI machines.
      expect(usage!.cpuPercent).toBeGreaterThan(20);
      expect(usage!.cpuPercent).toBeLessThan(400);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('returns undefined for a process that does not exist', () => {
    expect(readProcSample(2 ** 22 + 12345)).toBeUndefined();
    expect(startProcSampler(2 ** 22 + 12345, 50).stop()).toBeUndefined();
  });
});
