/**
 * The Kubernetes manifests in deploy/ hold together: probes on the routes the
 * server has, ports and selectors that meet, an HPA on CPU that has a CPU
 * request to measure against, REDIS_URL naming the Redis Service, and the
 * configs ConfigMap mounted where --configs points, with configs that compile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfigSet } from '../engine/config/load.js';
import { builtinOperators } from '../operators/index.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DEPLOY = join(ROOT, 'deploy');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed manifests

function docs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map((d) => {
    expect(d.errors, `${file}: ${d.errors.map((e) => e.message).join('; ')}`).toEqual([]);
    return d.toJS() as Obj;
  });
}

const kustomization = docs('kustomization.yaml')[0]!;
const all = (kustomization['resources'] as string[]).flatMap((f) => docs(f));
const find = (kind: string, name: string): Obj => {
  const o = all.find((d) => d['kind'] === kind && d['metadata']?.['name'] === name);
  expect(o, `${kind}/${name}`).toBeDefined();
  return o!;
};
const matches = (selector: Obj, labels: Obj): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/ manifests', () => {
  const dep = find('Deployment', 'airmail');
  const pod = dep['spec']['template']['spec'];
  const main = (pod['containers'] as Obj[]).find((c) => c['name'] === 'airmail')!;
  const env = Object.fromEntries((main['env'] as Obj[]).map((e) => [e['name'], e]));
  const port = (main['ports'] as Obj[]).find((p) => p['name'] === 'http')!;

  it('every manifest has apiVersion, kind and a name', () => {
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const d of all) {
      expect(typeof d['apiVersion']).toBe('string');
      expect(typeof d['kind']).toBe('string');
      expect(d['metadata']?.['name']).toMatch(/^[a-z0-9-]+$/);
    }
  });

  it('the Deployment has readiness on /ready and liveness on /health, on the port the server listens on', () => {
    expect(main['readinessProbe']['httpGet']).toEqual({ path: '/ready', port: 'http' });
    expect(main['livenessProbe']['httpGet']).toEqual({ path: '/health', port: 'http' });
    expect(port['containerPort']).toBe(Number(env['PORT']['value']));
    // Readiness reacts faster than liveness: a draining or reloading pod leaves the Service, it is not killed.
    expect(main['readinessProbe']['periodSeconds'] * main['readinessProbe']['failureThreshold'])
      .toBeLessThan(main['livenessProbe']['periodSeconds'] * main['livenessProbe']['failureThreshold']);
    expect(dep['spec']['strategy']['rollingUpdate']['maxUnavailable']).toBe(0);
    expect(dep['spec']['replicas']).toBeGreaterThanOrEqual(2);
    expect(matches(dep['spec']['selector']['matchLabels'], dep['spec']['template']['metadata']['labels'])).toBe(true);
  });

  it('the Service selects the server pods and targets the http port', () => {
    const svc = find('Service', 'airmail');
    expect(matches(svc['spec']['selector'], dep['spec']['template']['metadata']['labels'])).toBe(true);
    expect(svc['spec']['ports'][0]['targetPort']).toBe('http');
  });

  it('the HPA scales the Deployment on CPU, which has a CPU request to measure against', () => {
    const hpa = find('HorizontalPodAutoscaler', 'airmail');
    expect(hpa['apiVersion']).toBe('autoscaling/v2');
    expect(hpa['spec']['scaleTargetRef']).toMatchObject({ kind: 'Deployment', name: 'airmail' });
    const cpu = (hpa['spec']['metrics'] as Obj[]).find((m) => m['type'] === 'Resource' && m['resource']['name'] === 'cpu');
    expect(cpu?.['resource']['target']['type']).toBe('Utilization');
    expect(hpa['spec']['minReplicas']).toBeGreaterThanOrEqual(2);
    expect(hpa['spec']['maxReplicas']).toBeGreaterThan(hpa['spec']['minReplicas']);
    expect(main['resources']['requests']['cpu']).toBeDefined();
    // Worker threads follow the CPU limit.
    expect(env['AIRMAIL_THREADS']['valueFrom']['resourceFieldRef']['resource']).toBe('limits.cpu');
    const pdb = find('PodDisruptionBudget', 'airmail');
    expect(matches(pdb['spec']['selector']['matchLabels'], dep['spec']['template']['metadata']['labels'])).toBe(true);
  });

  it('REDIS_URL names the Redis Service, which selects a Redis Deployment that never evicts the replicated configs', () => {
    const url = new URL(env['REDIS_URL']['value']);
    const svc = find('Service', url.hostname);
    const redis = all.find((d) => d['kind'] === 'Deployment' && matches(svc['spec']['selector'], d['spec']['template']['metadata']['labels']));
    expect(redis).toBeDefined();
    expect(svc['spec']['ports'][0]['port']).toBe(Number(url.port));
    const c = redis!['spec']['template']['spec']['containers'][0];
    expect((c['ports'] as Obj[]).some((p) => p['name'] === svc['spec']['ports'][0]['targetPort'] && p['containerPort'] === 6379)).toBe(true);
    const args = c['args'] as string[];
    expect(args[args.indexOf('--maxmemory-policy') + 1]).toMatch(/^volatile-/);
    expect(c['readinessProbe']).toBeDefined();
  });

  it('the configs ConfigMap is copied to the writable folder that --configs names', () => {
    const gen = (kustomization['configMapGenerator'] as Obj[])[0]!;
    const base = (pod['volumes'] as Obj[]).find((v) => v['configMap']?.['name'] === gen['name']);
    expect(base, 'a volume from the generated ConfigMap').toBeDefined();
    const args = main['args'] as string[];
    const dir = args[args.indexOf('--configs') + 1];
    const mount = (main['volumeMounts'] as Obj[]).find((m) => m['mountPath'] === dir)!;
    expect((pod['volumes'] as Obj[]).find((v) => v['name'] === mount['name'])?.['emptyDir']).toBeDefined();
    const init = (pod['initContainers'] as Obj[])[0]!;
    const baseMount = (init['volumeMounts'] as Obj[]).find((m) => m['name'] === base!['name'])!;
    expect(init['command'].join(' ')).toContain(`${baseMount['mountPath']}/*.yaml ${dir}`);
  });

  it('the ConfigMap configs compile against the demo data the image holds under /app/configs', async () => {
    const gen = (kustomization['configMapGenerator'] as Obj[])[0]!;
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/WORKDIR \/app[\s\S]*COPY configs configs/);
    const sources = (gen['files'] as string[]).map((f) => ({
      path: join(ROOT, 'configs', f.split('/').pop()!),
      text: readFileSync(join(DEPLOY, f), 'utf8').replaceAll('/app/configs/', `${join(ROOT, 'configs')}/`),
    }));
    const r = await loadConfigSet(sources, { operators: new Map(builtinOperators.map((d) => [d.name, d])) });
    expect(r.diagnostics).toEqual([]);
    expect(r.ok && [...r.snapshot.pipelines.keys()]).toContain('complimentary_items');
  });

  it('what the server writes has a writable place: the audit log and artifact cache on a mounted volume, not the read-only root (./airmail-audit.jsonl stopped the server at start once the admin secret existed)', () => {
    expect(main['securityContext']['readOnlyRootFilesystem']).toBe(true);
    const writable = (path: string): boolean => (main['volumeMounts'] as Obj[]).some((m) => {
      const v = (pod['volumes'] as Obj[]).find((x) => x['name'] === m['name']);
      return !m['readOnly'] && v?.['emptyDir'] !== undefined && (path === m['mountPath'] || path.startsWith(`${m['mountPath']}/`));
    });
    for (const name of ['AIRMAIL_AUDIT_LOG', 'AIRMAIL_CACHE']) {
      const value = env[name]?.['value'] as string | undefined;
      expect(value, `${name} is set`).toMatch(/^\//);
      expect(writable(value!), `${name}=${value} lies on a writable volume`).toBe(true);
    }
    expect(writable('/tmp'), 'pinned model copies go to the temp folder').toBe(true);
    // Admin changes are written to the configs folder: it must be the writable copy, not the ConfigMap.
    const args = main['args'] as string[];
    expect(writable(args[args.indexOf('--configs') + 1]!)).toBe(true);
  });

  it('the Dockerfile: every COPY source exists, the image runs as node with its writable places set, HEALTHCHECK on /health, and a .dockerignore keeps node_modules and .git out of the context', () => {
    const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    for (const m of df.matchAll(/^COPY (?!--from)(.+)$/gm)) {
      const parts = m[1]!.trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
    }
    const runtime = df.slice(df.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/AIRMAIL_AUDIT_LOG=\/var\/lib\/airmail\//);
    expect(runtime).toMatch(/AIRMAIL_CACHE=\/var\/lib\/airmail\//);
    expect(runtime).toMatch(/chown node:node \/var\/lib\/airmail/);
    expect(runtime).toMatch(/HEALTHCHECK[^\n]*\/health'/);
    // The build stage makes dist/ (npm ci runs `prepare`, the TypeScript build) before the runtime copies it.
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['scripts']['prepare']).toMatch(/tsc -p tsconfig\.build\.json/);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', '.git', 'dist']) expect(ignore, p).toContain(p);
  });

  it('the drain fits the grace period: pre-stop pause, drain delay and the default request deadline end before SIGKILL', () => {
    const preStop = Number((main['lifecycle']['preStop']['exec']['command'] as string[])[1]);
    const drainMs = Number(env['AIRMAIL_DRAIN_DELAY_MS']?.['value'] ?? 0);
    const deadlineMs = Number(env['AIRMAIL_DEADLINE_MS']?.['value'] ?? 10_000);
    expect(preStop * 1000 + drainMs + deadlineMs).toBeLessThan(pod['terminationGracePeriodSeconds'] * 1000);
  });
});

