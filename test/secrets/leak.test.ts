import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventsV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { silentObserver, type ReconcileContext } from '../../src/controller/context.js';
import { createEventRecorder } from '../../src/kube/events.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { deploymentWithBackup } from '../controller/fixtures.js';
import {
  converge,
  createFixture,
  createMigration,
  isReady,
  migrationSpec,
  patchMigration,
  startHarness,
  type Fixture,
  type Harness,
} from '../controller/harness.js';
import {
  lockTable,
  pgDumpProcesses,
  processArgs,
  roleWithPassword,
  sampleProcessArgs,
  secretForms,
  waitForBlockedSession,
} from './support.js';

const PASSWORD = `Lk-${process.pid}-p@ss:w/rd%probe`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
// Stopping the control plane gives each component its grace period: longer than a test's default on a busy machine.
afterAll(async () => {
  await h?.stop();
}, 120_000);

/** The reconciler's context with a real Event recorder, whose writes the test can wait for. */
function recordingContext(): { ctx: ReconcileContext; settled: () => Promise<unknown> } {
  const base = h.context();
  const events = createEventRecorder(h.operatorKc, {
    reportingController: 'schemaops.dev/operator',
    reportingInstance: 'leak-test',
    log: pino({ enabled: false }),
  });
  const pending: Promise<void>[] = [];
  const ctx: ReconcileContext = {
    ...base,
    observer: {
      ...silentObserver,
      event: (object, type, reason, note) => {
        pending.push(events.record(object, { type, reason, action: 'Reconcile', note }));
      },
    },
  };
  return { ctx, settled: () => Promise.all(pending) };
}

/**
 * Runs to Ready while a table lock holds pg_dump mid-dump, so the backup process is surely on the machine
 * when `ps` looks; returns what `ps` showed then.
 */
async function runWithBackupSeen(
  f: Fixture,
  url: string,
  ctx: ReconcileContext,
  done: (o: StoredSchemaMigration | undefined) => boolean,
): Promise<{ argv: string[]; dumps: ReturnType<typeof pgDumpProcesses> }> {
  const lock = await lockTable(url, 'audit_probe');
  const run = converge(h, f, done, { ctx, timeoutMs: 120_000 });
  let seen: { argv: string[]; dumps: ReturnType<typeof pgDumpProcesses> };
  try {
    const ended = run.then(() => {
      throw new Error('the run ended before its pg_dump was seen');
    });
    await Promise.race([waitForBlockedSession(url, 'pg_dump', 60_000), ended]);
    seen = { argv: await processArgs(), dumps: pgDumpProcesses() };
  } finally {
    await lock.release();
  }
  await run;
  return seen;
}

describe('the database password, through a whole migration and rollback with backups', () => {
  it('is in no log line, Event, status, Job or Pod spec, pod log or process argv', async () => {
    const f = await createFixture(h, deploymentWithBackup);
    const url = await roleWithPassword(f.databaseUrl, `leak_${process.pid}`, PASSWORD);
    await query(url, 'CREATE TABLE audit_probe (id int)');
    await h.core.replaceNamespacedSecret({
      namespace: f.namespace,
      name: 'orders-db',
      body: { metadata: { name: 'orders-db' }, stringData: { url } },
    });
    const secrets = secretForms(PASSWORD, url);
    const { ctx, settled } = recordingContext();
    const sampler = sampleProcessArgs();
    const during: string[] = [];
    let pgDumps = 0;
    try {
      await createMigration(h, f, migrationSpec(deploymentWithBackup));
      const up = await runWithBackupSeen(
        f,
        url,
        ctx,
        (o) => isReady(o) && o?.status?.currentRevision === '3_create-customers',
      );
      await patchMigration(h, f, { spec: { targetRevision: 'base' } });
      const down = await runWithBackupSeen(
        f,
        url,
        ctx,
        (o) => isReady(o) && o?.status?.currentRevision === 'base',
      );
      for (const seen of [up, down]) {
        during.push(...seen.argv, ...seen.dumps.map((d) => `${d.cmdline}\n${d.environ}`));
        pgDumps += seen.dumps.length;
      }
    } finally {
      const samples = await sampler.stop();
      expect(samples).toBeGreaterThan(1);
    }
    await settled();
    expect(await currentRevision({ databaseUrl: url })).toBe('base');
    expect(pgDumps).toBeGreaterThanOrEqual(2);
    const sampled = [...sampler.seen];
    expect(sampled.some((line) => /pg_dump --format=custom/.test(line))).toBe(true);

    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.history).toHaveLength(2);
    const jobs = (await h.batch.listNamespacedJob({ namespace: f.namespace })).items;
    // Two runs, each with two backups: the whole database before the scale-down, the touched tables after it.
    expect(jobs).toHaveLength(4);
    const pods = (await h.core.listNamespacedPod({ namespace: f.namespace })).items;
    const backupPods = pods.filter((p) => p.metadata?.labels?.['app.kubernetes.io/component'] === 'backup');
    expect(backupPods).toHaveLength(4);
    const podLogs = await Promise.all(
      backupPods.map(
        async (p) => (await h.test.kubectl(['logs', '-n', f.namespace, p.metadata!.name!])).stdout,
      ),
    );
    expect(podLogs.join('\n')).toContain('"sizeBytes"');
    const coreEvents = (await h.core.listEventForAllNamespaces()).items;
    const events = (await h.kc.makeApiClient(EventsV1Api).listEventForAllNamespaces()).items;
    expect(
      events.some((e) => e.reason === 'BackupStarted' && e.regarding?.uid === object?.metadata.uid),
    ).toBe(true);
    expect(h.logs.length).toBeGreaterThan(0);

    const observed: Record<string, string> = {
      'reconciler logs': h.logs.join(''),
      'core/v1 Events': JSON.stringify(coreEvents),
      'events.k8s.io Events': JSON.stringify(events),
      'SchemaMigration status': JSON.stringify(object?.status),
      'Job specs': JSON.stringify(jobs),
      'Pod specs': JSON.stringify(pods),
      'pod logs': podLogs.join('\n'),
      'argv sampled by ps during the run': sampled.join('\n'),
      'argv and environment of pg_dump mid-dump': during.join('\n'),
    };
    const leaks = Object.entries(observed).flatMap(([where, text]) =>
      secrets.filter((secret) => text.includes(secret)).map((secret) => `${where}: ${secret}`),
    );
    expect(leaks).toEqual([]);
  });
});
