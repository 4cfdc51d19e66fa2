/* eslint-disable @typescript-eslint/no-unsafe-member-access -- API bodies are untyped JSON that the assertions check */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { startTestCluster, waitFor, widgetCrd, writeFile, type Json, type TestCluster } from './support.js';

let t: TestCluster;

beforeAll(async () => {
  t = await startTestCluster({ controllers: { workloads: { delayMs: 50 }, jobs: { retryDelayMs: 50 } } });
});

afterAll(async () => {
  await t.close();
});

/** Runs a long-lived kubectl and collects its output until stopped. */
function background(args: string[]): { output: () => string; exited: Promise<number>; stop: () => void } {
  const child = spawn('kubectl', args, {
    env: { ...process.env, KUBECONFIG: t.kubeconfigPath, KUBECACHEDIR: `${t.dir}/kubecache` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { output: () => out, exited, stop: () => child.kill() };
}

describe('the real kubectl against the local cluster', () => {
  it('applies a CRD and then a custom resource, and shows printer columns and defaults', async () => {
    await t.kubectl(['apply', '-f', writeFile(t.dir, 'crd.yaml', stringify(widgetCrd))]);
    await t.kubectl(['wait', '--for=condition=established', 'crd/widgets.example.com', '--timeout=10s']);
    const cr = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3 } };
    const applied = await t.kubectl(['apply', '-f', writeFile(t.dir, 'w1.yaml', stringify(cr))]);
    expect(applied.stdout).toContain('widget.example.com/w1 created');
    const again = await t.kubectl(['apply', '-f', writeFile(t.dir, 'w1.yaml', stringify(cr))]);
    expect(again.stdout).toContain('widget.example.com/w1 unchanged');

    const table = await t.kubectl(['get', 'wd']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+SIZE\s+READY\s*$/);
    expect(table.stdout).toMatch(/w1\s+3/);

    const yaml = await t.kubectl(['get', 'widget', 'w1', '-o', 'yaml']);
    expect(yaml.stdout).toContain('color: blue');
    expect(yaml.stdout).toMatch(/resourceVersion: "\d+"/);
    expect(yaml.stdout).toContain('generation: 1');
  });

  it('patches with --type merge and --type json, and a failed json test leaves the object alone', async () => {
    await t.kubectl(['patch', 'wd', 'w1', '--type', 'merge', '-p', '{"spec":{"size":5}}']);
    await t.kubectl([
      'patch',
      'wd',
      'w1',
      '--type',
      'json',
      '-p',
      '[{"op":"test","path":"/spec/size","value":5},{"op":"replace","path":"/spec/size","value":6}]',
    ]);
    const failed = await t.kubectl(
      [
        'patch',
        'wd',
        'w1',
        '--type',
        'json',
        '-p',
        '[{"op":"test","path":"/spec/size","value":5},{"op":"replace","path":"/spec/size","value":9}]',
      ],
      {
        allowFailure: true,
      },
    );
    expect(failed.code).not.toBe(0);
    const size = await t.kubectl(['get', 'wd', 'w1', '-o', 'jsonpath={.spec.size} {.metadata.generation}']);
    expect(size.stdout).toBe('6 3');
    const strategic = await t.kubectl(['patch', 'wd', 'w1', '-p', '{"spec":{"size":1}}'], {
      allowFailure: true,
    });
    expect(strategic.stderr).toMatch(/UnsupportedMediaType|unknown format|strategic merge patch/i);
  });

  it('scales a deployment and the rollout completes', async () => {
    await t.kubectl(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=1']);
    await t.kubectl(['rollout', 'status', 'deployment/web', '--timeout=20s']);
    const scaled = await t.kubectl(['scale', 'deployment', 'web', '--replicas=3']);
    expect(scaled.stdout).toContain('deployment.apps/web scaled');
    await t.kubectl(['rollout', 'status', 'deployment/web', '--timeout=20s']);
    const status = await t.kubectl([
      'get',
      'deploy',
      'web',
      '-o',
      'jsonpath={.spec.replicas} {.status.readyReplicas} {.status.observedGeneration}',
    ]);
    expect(status.stdout).toBe('3 3 2');
    const pods = await t.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'name']);
    expect(pods.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('sees a change with get -w', async () => {
    const watch = background(['get', 'wd', 'w1', '-w']);
    try {
      await waitFor(() => /w1\s+6/.test(watch.output()), { what: 'the first row' });
      await t.kubectl(['patch', 'wd', 'w1', '--type', 'merge', '-p', '{"spec":{"size":8}}']);
      await waitFor(() => /w1\s+8/.test(watch.output()), { what: 'the changed row' });
    } finally {
      watch.stop();
    }
  });

  it('deletes an object held by a finalizer, and wait --for=delete returns once the finalizer is removed', async () => {
    await t.kubectl([
      'patch',
      'wd',
      'w1',
      '--type',
      'merge',
      '-p',
      '{"metadata":{"finalizers":["example.com/hold"]}}',
    ]);
    const deleted = await t.kubectl(['delete', 'wd', 'w1', '--wait=false']);
    expect(deleted.stdout).toContain('"w1" deleted');
    const marked = await t.kubectl(['get', 'wd', 'w1', '-o', 'jsonpath={.metadata.deletionTimestamp}']);
    expect(marked.stdout).toMatch(/^\d{4}-/);
    const waiter = background(['wait', '--for=delete', 'widget/w1', '--timeout=30s']);
    await waitFor(() => t.cluster.access.list('', 'pods').length >= 0 && waiter.output() === '' && true, {
      what: 'wait to start',
    });
    await t.kubectl([
      'patch',
      'wd',
      'w1',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
    expect(await waiter.exited).toBe(0);
    const gone = await t.kubectl(['get', 'wd', 'w1'], { allowFailure: true });
    expect(gone.stderr).toContain('widgets.example.com "w1" not found');
  });

  it('creates a job whose command runs locally to completion', async () => {
    await t.kubectl([
      'create',
      'job',
      'hello',
      '--image=busybox',
      '--',
      'sh',
      '-c',
      'echo "hello from $(hostname 2>/dev/null || echo here)"; echo done',
    ]);
    await t.kubectl(['wait', '--for=condition=complete', 'job/hello', '--timeout=20s']);
    const job = JSON.parse((await t.kubectl(['get', 'job', 'hello', '-o', 'json'])).stdout) as Json;
    expect(job.status.succeeded).toBe(1);
    expect(job.status.completionTime).toBeDefined();
    const logs = await t.kubectl(['logs', 'job/hello']);
    expect(logs.stdout).toContain('done');
  });
});
