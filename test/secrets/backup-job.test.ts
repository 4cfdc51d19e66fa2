import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';
import { buildBackupJob } from '../../src/specs/backup-job.js';
import { freshDatabase, query } from '../support/db.js';
import { startTestCluster, waitFor, type TestCluster } from '../localcluster/support.js';
import {
  lockTable,
  pgDumpProcesses,
  processArgs,
  roleWithPassword,
  secretForms,
  waitForBlockedSession,
} from './support.js';

const run = promisify(execFile);
const HASH = 'sha256:5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2';
const PASSWORD = `Bk-${process.pid}@dump:pa/ss%word`;
const APPLICATION = 'schemaops-backup-probe';

describe('the backup Job on a real cluster, pg_dump looked at while it runs', () => {
  let t: TestCluster;
  let core: CoreV1Api;
  let batch: BatchV1Api;

  beforeAll(async () => {
    t = await startTestCluster({ podReadyDelayMs: 50 });
    const kc = new KubeConfig();
    kc.loadFromString(t.cluster.kubeconfig());
    core = kc.makeApiClient(CoreV1Api);
    batch = kc.makeApiClient(BatchV1Api);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function finished(namespace: string, name: string): Promise<V1Job> {
    return waitFor(
      async () => {
        const job = await batch.readNamespacedJob({ namespace, name });
        const done = job.status?.conditions?.some(
          (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
        );
        return done ? job : undefined;
      },
      { timeoutMs: 30_000, what: `Job ${name} to finish` },
    );
  }

  it('runs pg_dump with no password in any argv or in its environment, and the dump lists with pg_restore', async () => {
    const namespace = 'backup-argv';
    const database = await freshDatabase('argv');
    const url = await roleWithPassword(database, `argv_${process.pid}`, PASSWORD);
    await query(url, 'CREATE TABLE orders (id int PRIMARY KEY, total int)');
    await query(url, 'INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 50) g');
    // Query parameters must reach libpq: the application name is how the blocked pg_dump is found below.
    const secretUrl = `${url}?sslmode=disable&application_name=${APPLICATION}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'orders-db' }, stringData: { url: secretUrl } },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: 'orders-backups' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    const job = buildBackupJob({
      migration: { name: 'orders', namespace, uid: '00000000-0000-4000-8000-00000000a1a1' },
      planHash: HASH,
      backup: {
        pvc: 'orders-backups',
        image: 'postgres:16',
        retain: 3,
        jobTTL: '1h',
        verify: 'Read',
        compression: 'auto',
      },
      databaseSecret: { name: 'orders-db', key: 'url' },
      timeoutSeconds: 120,
      now: new Date('2026-11-21T12:00:00Z'),
    });
    // No SchemaMigration owns it here; the garbage collector would delete a Job whose owner does not exist.
    delete job.metadata!.ownerReferences;
    for (const secret of secretForms(PASSWORD, secretUrl)) expect(JSON.stringify(job)).not.toContain(secret);

    const lock = await lockTable(url, 'orders');
    let released = false;
    try {
      await batch.createNamespacedJob({ namespace, body: job });
      await waitForBlockedSession(url, APPLICATION, 30_000);

      // pg_dump is connected and waits for the lock: the real process, mid-dump.
      const dumps = pgDumpProcesses();
      expect(dumps.length).toBeGreaterThan(0);
      const argv = await processArgs();
      expect(argv.some((line) => /pg_dump --format=custom/.test(line))).toBe(true);
      for (const secret of secretForms(PASSWORD, secretUrl)) {
        expect(argv.filter((line) => line.includes(secret))).toEqual([]);
        for (const dump of dumps) {
          expect(dump.cmdline).not.toContain(secret);
          expect(dump.environ).not.toContain(secret);
        }
      }
      for (const dump of dumps) {
        expect(dump.environ).not.toContain('DATABASE_URL=');
        expect(dump.environ).toMatch(/^PGSERVICEFILE=.*\/pg_service\.conf$/m);
        expect(dump.environ).toMatch(/^PGPASSFILE=.*\/pgpass$/m);
      }
      await lock.release();
      released = true;
    } finally {
      if (!released) await lock.release();
    }

    const done = await finished(namespace, job.metadata!.name!);
    expect(done.status?.succeeded).toBe(1);
    const dump = join(t.cluster.pvcDir(namespace, 'orders-backups'), 'orders-20261121T120000Z.dump');
    const listing = await run('pg_restore', ['--list', dump]);
    expect(listing.stdout).toMatch(/TABLE DATA public orders/);
    const logs = await t.kubectl(['logs', '-n', namespace, `job/${job.metadata!.name!}`]);
    expect(logs.stdout).toContain('"file":"orders-20261121T120000Z.dump"');
    for (const secret of secretForms(PASSWORD, secretUrl)) expect(logs.stdout).not.toContain(secret);
  });
});
