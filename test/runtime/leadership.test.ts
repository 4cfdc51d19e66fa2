import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { startOperator, type RunningOperator } from '../../src/runtime/operator.js';
import { files } from '../controller/fixtures.js';
import {
  createFixture,
  createMigration,
  isReady,
  migrationSpec,
  patchMigration,
  recordVersions,
  startHarness,
  type Harness,
} from '../controller/harness.js';
import { waitFor } from '../support/wait.js';

// The operator's RBAC allows one Lease: this name, in its own namespace.
const leaderElection = {
  leaderElect: 'true',
  leaseName: 'schemaops-leader',
  leaseNamespace: 'schemaops-system',
  leaseDuration: '3s',
  renewDeadline: '2s',
  retryPeriod: '250ms',
};

let h: Harness;
let adminKubeconfigPath: string;
const operators: RunningOperator[] = [];

beforeAll(async () => {
  h = await startHarness();
  adminKubeconfigPath = join(mkdtempSync(join(tmpdir(), 'leadership-')), 'kubeconfig');
  h.cluster.writeKubeconfig(adminKubeconfigPath);
});
afterAll(async () => {
  h.faults.clear();
  for (const operator of operators) await operator.stop();
  await h.stop();
});

interface LogLine {
  time: number;
  msg: string;
}

function capturedLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function operatorWith(kubeconfig: string, log: Logger): Promise<RunningOperator> {
  const flags = { kubeconfig, metricsAddr: '127.0.0.1:0', healthAddr: '127.0.0.1:0', ...leaderElection };
  const operator = await startOperator(loadConfig(flags, {}), log);
  operators.push(operator);
  return operator;
}

const describeWrite = (o: StoredSchemaMigration) =>
  `${o.status?.phase ?? '-'} ${o.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '-'} ${o.metadata.annotations?.['test.schemaops.dev/marker'] ?? ''}`.trim();

describe('one leader', () => {
  it('a leader whose renewals fail stops within the renew deadline, lets the migration commit whole, writes no status after, and the next leader finishes the run', async () => {
    const slow = {
      ...files,
      '3_create-customers.sql': files['3_create-customers.sql']!.replace(
        '-- Down Migration',
        'SELECT pg_sleep(4);\n-- Down Migration',
      ),
    };
    const options = { files: slow, workload: { kind: 'Deployment' as const, replicas: 2 } };
    const f = await createFixture(h, options);
    const writes = await recordVersions(h, f);
    const a = capturedLog();
    const first = await operatorWith(h.operatorKubeconfigPath, a.log);
    await waitFor(() => first.isSynced(), { timeoutMs: 20_000, what: 'the first operator to lead' });
    await createMigration(h, f, migrationSpec(options));
    await waitFor(() => writes.seen().some((o) => o.status?.phase === 'Migrating'), {
      timeoutMs: 20_000,
      what: 'the run to reach the migration',
    });

    // The SQL runs for 4 s; no status write is due until it commits.
    const before = writes.seen().length;
    h.faults.failNext({ path: '/apis/coordination.k8s.io/', status: 500, count: 1_000_000 });
    const failing = Date.now();
    const lost = await waitFor(() => a.lines.find((l) => l.msg === 'stopped leading'), {
      what: 'the first operator to stop leading',
    });
    expect(lost.time - failing).toBeLessThanOrEqual(2_000 + 2 * 250);
    // Ends when the run drains (fixed code) or when a write shows up (code that keeps going).
    await waitFor(() => a.lines.some((l) => l.msg === 'work stopped') || writes.seen().length > before, {
      timeoutMs: 20_000,
      what: 'the first operator to stop its work',
    });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    const deployment = { namespace: f.namespace, name: 'orders-api' };
    expect((await h.kube.getWorkload('Deployment', deployment))?.replicas).toBe(0);

    // A write of our own marks the end of what the watch has to deliver.
    await patchMigration(h, f, { metadata: { annotations: { 'test.schemaops.dev/marker': 'end' } } });
    await waitFor(() => writes.seen().some((o) => o.metadata.annotations?.['test.schemaops.dev/marker']), {
      what: 'the marker',
    });
    expect(writes.seen().slice(before).map(describeWrite)).toEqual(['Migrating Migrating end']);
    writes.stop();

    // Another instance takes the lease and resumes: the database is at the target, the workload comes back.
    const second = await operatorWith(adminKubeconfigPath, capturedLog().log);
    await waitFor(
      async () => {
        const object = await h.kube.getSchemaMigration(f.ref);
        return isReady(object) && object?.status?.currentRevision === '3_create-customers';
      },
      { timeoutMs: 30_000, what: 'the second operator to finish the run' },
    );
    expect(second.isSynced()).toBe(true);
    expect(first.isSynced()).toBe(false);
    expect(await h.kube.getWorkload('Deployment', deployment)).toMatchObject({ replicas: 2 });
  });
});
