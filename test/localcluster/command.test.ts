import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import { kubectlRunner, waitFor } from './support.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `schemaops local-cluster` as a user runs it, with its own data directory so its processes can be found. */
function startCommand() {
  const dir = mkdtempSync(join(tmpdir(), 'local-cluster-command-'));
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  const kubeconfig = join(dir, 'kubeconfig');
  const child = spawn(
    process.execPath,
    ['--import', './scripts/register-ts.js', 'src/main.ts', 'local-cluster', '--port', '0'].concat([
      '--kubeconfig',
      kubeconfig,
      '--data-dir',
      dataDir,
    ]),
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const kubectl = kubectlRunner(
    { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache') },
    30_000,
  );
  return { child, dataDir, kubectl, output: () => output, exited };
}

/** The processes whose command line names the data directory: the components and their watchdogs. */
async function processesOf(dataDir: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'args=']);
  return stdout.split('\n').filter((line) => line.includes(dataDir));
}

describe('schemaops local-cluster', () => {
  it('serves a cluster kubectl can use, and stops every component on SIGTERM', async () => {
    const c = startCommand();
    await waitFor(() => c.output().includes('local cluster serving at https://127.0.0.1:'), {
      timeoutMs: 90_000,
      what: `the cluster to start: ${c.output()}`,
    });
    const nodes = await c.kubectl(['get', 'nodes', '-o', 'name']);
    expect(nodes.stdout.trim()).toBe('node/local');
    expect((await processesOf(c.dataDir)).length).toBeGreaterThanOrEqual(4);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.output()).toContain('local cluster stopped');
    expect(await processesOf(c.dataDir)).toEqual([]);
  });

  it('leaves no component running when it is killed outright', async () => {
    const c = startCommand();
    await waitFor(() => c.output().includes('local cluster serving at'), {
      timeoutMs: 90_000,
      what: `the cluster to start: ${c.output()}`,
    });
    c.child.kill('SIGKILL');
    await c.exited;
    // Each component's watchdog sees its stdin close and stops it.
    await waitFor(async () => (await processesOf(c.dataDir)).length === 0, {
      timeoutMs: 30_000,
      what: 'the components to stop',
    });
  });
});
