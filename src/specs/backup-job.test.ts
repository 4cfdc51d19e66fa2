import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1Job } from '@kubernetes/client-node';
import { freshDatabase, query, testPostgres } from '../../test/support/db.js';
import {
  backupFileName,
  backupJobName,
  buildBackupJob,
  parseBackupSummary,
  shortPlanHash,
  type BackupJobInput,
} from './backup-job.js';

const HASH = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

const input: BackupJobInput = {
  migration: { name: 'orders', namespace: 'shop', uid: '3f1c2a9e-0000-4000-8000-000000000001' },
  planHash: HASH,
  backup: { pvc: 'orders-backups', image: 'postgres:16', retain: 3, jobTTL: '24h' },
  databaseSecret: { name: 'orders-db', key: 'url' },
  timeoutSeconds: 1800,
  now: new Date('2026-11-21T12:00:00.456Z'),
};

function containerOf(job: V1Job): V1Container {
  return job.spec!.template.spec!.containers[0]!;
}

/** The container's literal env values, as the kubelet would set them. */
function literalEnv(container: V1Container): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
  );
}

describe('buildBackupJob', () => {
  const job = buildBackupJob(input);
  const pod = job.spec!.template.spec!;
  const container = containerOf(job);

  it('names the Job after the SchemaMigration and the plan, and owns it', () => {
    expect(job.metadata).toEqual({
      name: 'orders-backup-0123456789',
      namespace: 'shop',
      labels: {
        'app.kubernetes.io/managed-by': 'schemaops',
        'app.kubernetes.io/component': 'backup',
        'schemaops.dev/migration': 'orders',
        'schemaops.dev/plan-hash': '0123456789',
      },
      ownerReferences: [
        {
          apiVersion: 'schemaops.dev/v1alpha1',
          kind: 'SchemaMigration',
          name: 'orders',
          uid: input.migration.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(job.spec!.template.metadata!.labels).toEqual(job.metadata!.labels);
  });

  it('runs once, within the backup timeout, and is deleted by Kubernetes jobTTL after it finished', () => {
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 1800 });
    expect(job.spec!.ttlSecondsAfterFinished).toBe(86_400);
    const short = { ...input, backup: { ...input.backup, jobTTL: '1m30s' } };
    expect(buildBackupJob(short).spec!.ttlSecondsAfterFinished).toBe(90);
    expect(pod.restartPolicy).toBe('Never');
    expect(buildBackupJob({ ...input, timeoutSeconds: 0.2 }).spec!.activeDeadlineSeconds).toBe(1);
  });

  it('runs restricted: non-root as the postgres user, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 999,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('mounts the backup PVC at /backups and a writable /tmp', () => {
    expect(pod.volumes).toEqual([
      { name: 'backups', persistentVolumeClaim: { claimName: 'orders-backups' } },
      { name: 'tmp', emptyDir: {} },
    ]);
    expect(container.volumeMounts).toEqual([
      { name: 'backups', mountPath: '/backups' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  it('takes the URL from the Secret through the environment, never the command line', () => {
    expect(container.name).toBe('backup');
    expect(container.image).toBe('postgres:16');
    expect(container.command![0]).toBe('/bin/sh');
    expect(container.args).toBeUndefined();
    expect(container.env![0]).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } },
    });
    expect(literalEnv(container)).toMatchObject({
      BACKUP_DIR: '/backups',
      BACKUP_FILE: 'orders-20261121T120000Z.dump',
      RETAIN: '3',
    });
    expect(JSON.stringify(container.command)).not.toMatch(/postgres(ql)?:\/\//);
  });

  it('keeps long names within 63 characters as a DNS-1123 label', () => {
    const long = `${'a'.repeat(44)}-b.${'c'.repeat(100)}`;
    const name = backupJobName(long, HASH);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(name).toBe(`${'a'.repeat(44)}-backup-0123456789`);
    const labels = buildBackupJob({ ...input, migration: { ...input.migration, name: long } }).metadata!
      .labels!;
    expect(labels['schemaops.dev/migration']!.length).toBeLessThanOrEqual(63);
  });

  it('refuses a plan hash that is not hex', () => {
    expect(shortPlanHash('ABCDEF0123456789')).toBe('abcdef0123');
    expect(() => shortPlanHash('sha256:xyz')).toThrow('is not sha256:<hex>');
    expect(() => shortPlanHash('sha256:abc')).toThrow('is not sha256:<hex>');
  });

  it('reads the summary back from a termination message, and nothing else', () => {
    expect(parseBackupSummary('{"file":"orders-20261121T120000Z.dump","sizeBytes":42}\n')).toEqual({
      file: 'orders-20261121T120000Z.dump',
      sizeBytes: 42,
    });
    expect(parseBackupSummary('pg_dump: error: connection failed')).toBeUndefined();
    expect(parseBackupSummary('{"file":1}')).toBeUndefined();
    expect(parseBackupSummary(undefined)).toBeUndefined();
  });
});

describe('the backup script, run by /bin/sh against a real PostgreSQL', () => {
  let url: string;
  let dir: string;

  beforeAll(async () => {
    url = await freshDatabase('backup');
    await query(url, 'CREATE TABLE orders (id int PRIMARY KEY, note text)');
    await query(url, "INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 100) g");
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function runJob(
    job: V1Job,
    databaseUrl: string,
  ): { status: number | null; stdout: string; stderr: string } {
    const container = containerOf(job);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...literalEnv(container),
      BACKUP_DIR: dir,
      DATABASE_URL: databaseUrl,
      TERMINATION_LOG: join(dir, 'termination-log'),
    };
    const [file, ...args] = container.command!;
    const result = spawnSync(file!, args, { env, encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function dumpsOf(prefix: string): string[] {
    return readdirSync(dir)
      .filter((f) => f.startsWith(`${prefix}-2`) && f.endsWith('.dump'))
      .sort();
  }

  it('dumps, verifies, prunes to retain and reports the file, without the URL anywhere', () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const older = ['20261118T090000Z', '20261119T090000Z', '20261120T090000Z', '20261121T110000Z'];
    for (const stamp of older) writeFileSync(join(dir, `orders-${stamp}.dump`), 'old');
    writeFileSync(join(dir, 'orders-v2-20200101T000000Z.dump'), 'another migration');
    writeFileSync(join(dir, 'notes.txt'), 'not a dump');

    const job = buildBackupJob(input);
    const run = runJob(job, url);
    expect(run.stderr).not.toContain(testPostgres().password);
    expect(run.status).toBe(0);

    const file = 'orders-20261121T120000Z.dump';
    const size = statSync(join(dir, file)).size;
    expect(dumpsOf('orders')).toEqual(
      ['orders-20261121T110000Z.dump', 'orders-20261120T090000Z.dump', file].sort(),
    );
    expect(readdirSync(dir)).toEqual(
      expect.arrayContaining(['orders-v2-20200101T000000Z.dump', 'notes.txt']),
    );
    expect(readdirSync(dir).some((f) => f.endsWith('.partial'))).toBe(false);

    const listing = spawnSync('pg_restore', ['--list', join(dir, file)], { encoding: 'utf8' });
    expect(listing.status).toBe(0);
    expect(listing.stdout).toMatch(/TABLE DATA public orders/);

    const summary = { file, sizeBytes: size };
    expect(JSON.parse(run.stdout.trim())).toEqual(summary);
    expect(parseBackupSummary(readFileSync(join(dir, 'termination-log'), 'utf8'))).toEqual(summary);

    const spec = JSON.stringify(job);
    expect(spec).not.toContain(testPostgres().password);
    expect(spec).not.toContain(url);
  });

  it('fails without leaving a partial dump or a summary when the database refuses the login', () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const badUrl = url.replace(/:\/\/([^:]+):[^@]+@/, '://$1:wrong-secret@');
    const run = runJob(buildBackupJob(input), badUrl);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/password authentication failed/);
    expect(run.stderr + run.stdout).not.toContain('wrong-secret');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a RETAIN that is not a positive integer before touching the database', () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const job = buildBackupJob(input);
    const env = containerOf(job).env!.map((e) => (e.name === 'RETAIN' ? { ...e, value: '0' } : e));
    job.spec!.template.spec!.containers[0]!.env = env;
    const run = runJob(job, url);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('RETAIN must be a positive integer');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names files so that they sort by time', () => {
    const a = backupFileName('orders', new Date('2026-01-02T03:04:05Z'));
    const b = backupFileName('orders', new Date('2026-10-20T23:59:59Z'));
    expect(a).toBe('orders-20260102T030405Z.dump');
    expect([b, a].sort()).toEqual([a, b]);
  });
});
