/**
 * The observability switches of the environment: a value the server does not understand
 * (AIRMAIL_LOG_LEVEL=warning, AIRMAIL_METRICS=disabled, AIRMAIL_DEBUG_IDS=lots) used to be dropped
 * without a word, so an operator who asked for quieter logs or no metrics got the defaults and no
 * hint why. Each is now one `warn` line (code AIRMAIL_ENV_INVALID) naming the variable, what it
 * takes and what the server does instead. An empty AIRMAIL_DEBUG_IDS read as 0 ids: it is unset.
 */
import { describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';

function fromEnv(env: Record<string, string>): { obs: Observability; lines: Record<string, unknown>[] } {
  const out: string[] = [];
  const obs = Observability.fromEnv(env, { write: (l: string) => out.push(l) });
  return { obs, lines: out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('misspelt observability switches', () => {
  it('AIRMAIL_LOG_LEVEL=warning: a warn line naming the levels, logging at info', () => {
    const { obs, lines } = fromEnv({ AIRMAIL_LOG_LEVEL: 'warning' });
    expect(obs.logger.level).toBe('info');
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', code: 'AIRMAIL_ENV_INVALID', variable: 'AIRMAIL_LOG_LEVEL', value: 'warning' })]);
    expect(String(lines[0]!['msg'])).toContain('debug, info, warn, error or silent; logging at info');
  });

  it('AIRMAIL_METRICS=disabled: a warn line, metrics stay on', () => {
    const { obs, lines } = fromEnv({ AIRMAIL_METRICS: 'disabled' });
    expect(obs.metrics).toBeDefined();
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', variable: 'AIRMAIL_METRICS', value: 'disabled' })]);
  });

  it('AIRMAIL_DEBUG_IDS=lots: a warn line, the default 20 kept; empty is unset, not 0', () => {
    const bad = fromEnv({ AIRMAIL_DEBUG_IDS: 'lots' });
    expect(bad.obs.debugIds).toBe(20);
    expect(bad.lines).toEqual([expect.objectContaining({ level: 'warn', variable: 'AIRMAIL_DEBUG_IDS', value: 'lots' })]);
    const empty = fromEnv({ AIRMAIL_DEBUG_IDS: '' });
    expect(empty.obs.debugIds).toBe(20);
    expect(empty.lines).toEqual([]);
  });

  it('the documented spellings are taken without a word', () => {
    const envs: Record<string, string>[] = [{ AIRMAIL_LOG_LEVEL: 'WARN' }, { AIRMAIL_METRICS: '0' }, { AIRMAIL_METRICS: 'Off' }, { AIRMAIL_METRICS: 'yes' }, { AIRMAIL_DEBUG_IDS: '5' }];
    for (const env of envs) {
      const { obs, lines } = fromEnv(env);
      expect(lines, JSON.stringify(env)).toEqual([]);
      if (env['AIRMAIL_DEBUG_IDS']) expect(obs.debugIds).toBe(5);
      if (env['AIRMAIL_METRICS'] === 'Off' || env['AIRMAIL_METRICS'] === '0') expect(obs.metrics).toBeUndefined();
    }
  });
});
