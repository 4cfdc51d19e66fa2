import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { V1Job } from '@kubernetes/client-node';
import { freshDatabase, query, testPostgres } from '../../test/support/db.js';
import { startPostgres, type PostgresServer } from '../localcluster/postgres.js';
import { containerOf, literalEnv, recordingPath, runJobScript } from '../../test/support/job-script.js';
import {
  backupFileName,
  backupJobName,
  buildBackupJob,
  CONNECTION_SCRIPT,
  parseBackupSummary,
  shortPlanHash,
  type BackupJobInput,
} from './backup-job.js';

const HASH = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

const input: BackupJobInput = {
  migration: { name: 'orders', namespace: 'shop', uid: '3f1c2a9e-0000-4000-8000-000000000001' },
  planHash: HASH,
  backup: {
    pvc: 'orders-backups',
    image: 'postgres:16',
    retain: 3,
    jobTTL: '24h',
    verify: 'Read',
    compression: 'auto',
  },
  databaseSecret: { name: 'orders-db', key: 'url' },
  timeoutSeconds: 1800,
  now: new Date('2026-11-21T12:00:00.456Z'),
};

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

  it('mounts the backup PVC at /backups, a writable /tmp and an in-memory directory for the connection files', () => {
    expect(pod.volumes).toEqual([
      { name: 'backups', persistentVolumeClaim: { claimName: 'orders-backups' } },
      { name: 'tmp', emptyDir: {} },
      { name: 'connection', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    ]);
    expect(container.volumeMounts).toEqual([
      { name: 'backups', mountPath: '/backups' },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'connection', mountPath: '/run/schemaops' },
    ]);
    expect(literalEnv(container).CONNECTION_DIR).toBe('/run/schemaops');
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
    // The script names the schemes it accepts, and no URL.
    expect(JSON.stringify(container.command)).not.toMatch(/postgres(ql)?:\/\/[\w@[%]/);
    const fromSecret = container.env!.filter((e) => e.valueFrom);
    expect(fromSecret).toEqual([container.env![0]]);
    expect(Object.values(literalEnv(container)).join('\n')).not.toMatch(/postgres(ql)?:|password/i);
  });

  it('gives pg_dump, pg_restore and psql no connection argument', () => {
    const script = container.command![2]!;
    const programs = script.split('\n').filter((line) => /^\s*(pg_dump|pg_restore|psql)\b/.test(line));
    expect(programs.length).toBeGreaterThanOrEqual(6);
    for (const line of programs) {
      // Whatever connects never prompts; pg_restore without --dbname only reads the file.
      if (/^\s*(pg_dump|psql)\b|--single-transaction/.test(line)) expect(line).toContain('--no-password');
      expect(line).not.toMatch(
        /\s(-h|--host|-U|--username|-p|--port|-W)\b|postgres(ql)?:|password=|DATABASE_URL/,
      );
    }
    // The one connection string on a command line names the service and the scratch database, nothing secret.
    expect(script.match(/--dbname "[^"]*"/g)).toEqual([
      '--dbname "service=$PGSERVICE dbname=$drill"',
      '--dbname "service=$PGSERVICE dbname=$drill"',
    ]);
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

  it('reads the summary back from a termination message, with the table counts after it, and nothing else', () => {
    const line =
      '{"file":"orders-20261121T120000Z.dump","sizeBytes":42,"countsSha256":"ab","tables":2,"rows":7,"verified":"Read","pruned":["orders-20261120T000000Z.dump"]}';
    const summary = {
      file: 'orders-20261121T120000Z.dump',
      sizeBytes: 42,
      countsSha256: 'ab',
      tables: 2,
      rows: 7,
      verified: 'Read',
      scope: 'full',
      pruned: ['orders-20261120T000000Z.dump'],
    };
    expect(parseBackupSummary(`${line}\n`)).toEqual(summary);
    expect(parseBackupSummary(`${line}\n3\tpublic.orders\n4\tpublic."Weird\ttable"\n`)).toEqual({
      ...summary,
      tableRows: [
        { table: 'public.orders', rows: 3 },
        { table: 'public."Weird\ttable"', rows: 4 },
      ],
    });
    expect(parseBackupSummary('{"file":"orders-20261121T120000Z.dump","sizeBytes":42}\n')).toBeUndefined();
    expect(parseBackupSummary('pg_dump: error: connection failed')).toBeUndefined();
    expect(parseBackupSummary('{"file":1}')).toBeUndefined();
    expect(parseBackupSummary(undefined)).toBeUndefined();
  });
});

describe('the connection script: the URL becomes a libpq service file and a pgpass file', () => {
  let dir: string;

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the connection part alone and shows what it wrote and what a program started after it would get. */
  function split(url: string): { status: number | null; stderr: string; service: string; pgpass: string } {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-connection-'));
    const show = 'cat "$PGSERVICEFILE"; echo ---; cat "$PGPASSFILE"; echo ---; stat -c %a "$PGPASSFILE"; env';
    const result = spawnSync('/bin/sh', ['-c', `set -eu\n${CONNECTION_SCRIPT}${show}`], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CONNECTION_DIR: dir, DATABASE_URL: url },
      encoding: 'utf8',
    });
    const [service = '', pgpass = '', rest = ''] = result.stdout.split('---\n');
    if (result.status === 0) {
      expect(rest.split('\n')[0]).toBe('600');
      expect(rest).not.toContain('DATABASE_URL');
      expect(rest).toContain(`PGSERVICEFILE=${dir}/pg_service.conf`);
      expect(rest).toContain(`PGPASSFILE=${dir}/pgpass`);
    }
    return { status: result.status, stderr: result.stderr, service, pgpass };
  }

  it.each([
    {
      url: 'postgres://orders:p%40ss%3Aw%2Frd%25%5C@db.shop.svc:5432/orders?sslmode=verify-full&application_name=api%20backup',
      service: [
        'sslmode=verify-full',
        'application_name=api backup',
        'host=db.shop.svc',
        'port=5432',
        'dbname=orders',
        'user=orders',
      ],
      pgpass: '*:*:*:*:p@ss\\:w/rd%\\\\\n',
    },
    {
      url: 'postgresql://u@[::1]:5433,replica,standby:6432/my%20db',
      service: ['host=::1,replica,standby', 'port=5433,,6432', 'dbname=my db', 'user=u'],
      pgpass: '',
    },
    {
      url: 'postgres:///orders?host=%2Fvar%2Frun%2Fpostgresql&password=from-query',
      service: ['host=/var/run/postgresql', 'dbname=orders'],
      pgpass: '*:*:*:*:from-query\n',
    },
    {
      url: 'postgres://db/orders?ssl=true',
      service: ['sslmode=require', 'host=db', 'dbname=orders'],
      pgpass: '',
    },
  ])('splits $url as libpq does', ({ url, service, pgpass }) => {
    const result = split(url);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.service).toBe(['[backup]', ...service, ''].join('\n'));
    expect(result.pgpass).toBe(pgpass);
  });

  it.each([
    { url: 'mysql://u:s3cret@db/orders', says: 'is not a postgres:// or postgresql:// URL' },
    { url: 'host=db password=s3cret dbname=orders', says: 'is not a postgres:// or postgresql:// URL' },
    { url: 'postgres://u:s3cret@db:54x/orders', says: 'has a port that is not a number' },
    { url: 'postgres://u:s3cret%zz@db/orders', says: 'has a malformed %-escape' },
    { url: 'postgres://u:s3cret%0A@db/orders', says: 'has a NUL or line break in it' },
    { url: 'postgres://u:s3cret@db/orders?Bad=1', says: 'has a query parameter that is not a libpq keyword' },
    { url: 'postgres://u:s3cret@db/orders?sslmode', says: 'has a query parameter without a value' },
  ])('refuses $url, saying it $says and never showing the password', ({ url, says }) => {
    const result = split(url);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`the database URL ${says}\n`);
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

  let connectionDir: string;
  const shims: (() => void)[] = [];

  afterAll(() => {
    if (connectionDir) rmSync(connectionDir, { recursive: true, force: true });
    for (const remove of shims) remove();
  });

  function runJob(job: V1Job, databaseUrl: string, path?: string) {
    const run = runJobScript(job, { databaseUrl, backupDir: dir, ...(path ? { path } : {}) });
    connectionDir = run.connectionDir;
    return run;
  }

  /** Every program the backup script may start, recorded; any other is not found. */
  function recording(log: string): string {
    const programs = [
      'pg_dump',
      'pg_restore',
      'psql',
      'mv',
      'rm',
      'wc',
      'tr',
      'mktemp',
      'awk',
      'sha256sum',
      'cut',
      'cat',
      'date',
      'sed',
    ];
    const shim = recordingPath(log, programs);
    shims.push(shim.remove);
    return shim.path;
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

    expect(readdirSync(dir).filter((f) => f.endsWith('.counts'))).toEqual([`${file}.counts`]);
    const counts = readFileSync(join(dir, `${file}.counts`));
    expect(counts.toString()).toBe('100\tpublic.orders\n');
    const summary = {
      file,
      sizeBytes: size,
      compression: 'gzip:1',
      countsSha256: createHash('sha256').update(counts).digest('hex'),
      tables: 1,
      rows: 100,
      verified: 'Read',
      scope: 'full',
      pruned: ['orders-20261118T090000Z.dump', 'orders-20261119T090000Z.dump'],
    };
    expect(JSON.parse(run.stdout.trim())).toEqual({ ...summary, relationsSha256: '', fallback: '' });
    expect(parseBackupSummary(readFileSync(join(dir, 'termination-log'), 'utf8'))).toEqual({
      ...summary,
      tableRows: [{ table: 'public.orders', rows: 100 }],
    });

    const spec = JSON.stringify(job);
    expect(spec).not.toContain(testPostgres().password);
    expect(spec).not.toContain(url);
  });

  it('dumps as a role whose password needs escaping, every program it starts free of the password', async () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const password = 'Pr0be@pass:w/rd%25\\ ';
    const role = `backup_probe_${process.pid}`;
    await query(testPostgres().adminUrl, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await query(url, `GRANT SELECT ON orders TO ${role}`);
    const roleUrl = new URL(url);
    roleUrl.username = role;
    roleUrl.password = encodeURIComponent(password);
    roleUrl.search = '?sslmode=disable&application_name=schemaops%20backup';
    const log = join(dir, 'programs.log');

    const run = runJob(buildBackupJob(input), roleUrl.toString(), recording(log));
    expect(run.stderr).toContain('pg_dump to orders-20261121T120000Z.dump');
    expect(run.status).toBe(0);

    const recorded = readdirSync(dir)
      .filter((name) => name.startsWith(`${basename(log)}.`))
      .map((name) => readFileSync(join(dir, name), 'utf8'))
      .join('');
    const argv = recorded.split('\n').filter((line) => line.startsWith('argv:'));
    expect(argv.map((line) => line.split(' ')[1]!.replace(/^.*\//, ''))).toEqual(
      expect.arrayContaining(['pg_dump', 'pg_restore', 'mv', 'wc', 'tr', 'rm', 'awk', 'sha256sum']),
    );
    for (const secret of [password, encodeURIComponent(password), 'Pr0be@pass', roleUrl.toString()]) {
      expect(recorded).not.toContain(secret);
    }
    expect(recorded).not.toContain('DATABASE_URL');
    expect(readdirSync(connectionDir)).toEqual([]);
    const listing = spawnSync('pg_restore', ['--list', join(dir, 'orders-20261121T120000Z.dump')], {
      encoding: 'utf8',
    });
    expect(listing.stdout).toMatch(/TABLE DATA public orders/);
  });

  it('never writes over a dump of the same name: the Job fails and the file stays as it was', () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const file = 'orders-20261121T120000Z.dump';
    writeFileSync(join(dir, file), 'the dump taken earlier in the same second');
    const run = runJob(buildBackupJob(input), url);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`${file} exists on the backup volume already; it is not overwritten`);
    expect(readFileSync(join(dir, file), 'utf8')).toBe('the dump taken earlier in the same second');
    expect(readdirSync(dir)).toEqual([file]);
  });

  it('fails without leaving a partial dump or a summary when the database refuses the login', () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const badUrl = url.replace(/:\/\/([^:]+):[^@]+@/, '://$1:wrong-secret@');
    const run = runJob(buildBackupJob(input), badUrl);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/password authentication failed/);
    expect(run.stderr + run.stdout).not.toContain('wrong-secret');
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(connectionDir)).toEqual([]);
  });

  it('compresses with gzip level 1 by default on pg_dump 15, and refuses zstd there before touching the database', () => {
    dir = mkdtempSync(join(tmpdir(), 'schemaops-backup-'));
    const level = (file: string) =>
      /Compression: (\S+)/.exec(
        spawnSync('pg_restore', ['--list', join(dir, file)], { encoding: 'utf8' }).stdout,
      )?.[1];
    expect(runJob(buildBackupJob(input), url).status).toBe(0);
    expect(level('orders-20261121T120000Z.dump')).toBe('1');
    const none = {
      ...input,
      backup: { ...input.backup, compression: 'none' },
      now: new Date('2026-11-21T13:00:00Z'),
    };
    expect(runJob(buildBackupJob(none), url).status).toBe(0);
    expect(level('orders-20261121T130000Z.dump')).toBe('0');
    const zstd = {
      ...input,
      backup: { ...input.backup, compression: 'zstd:3' },
      now: new Date('2026-11-21T14:00:00Z'),
    };
    const refused = runJob(buildBackupJob(zstd), url);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(
      'backup.compression zstd:3 needs pg_dump 16 or newer; this image has pg_dump 15',
    );
    expect(readdirSync(dir).filter((f) => f.includes('T140000Z'))).toEqual([]);
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

describe('backup pods that fit real clusters', () => {
  const fitted = buildBackupJob({
    ...input,
    backup: {
      ...input.backup,
      resources: { requests: { cpu: '250m', memory: 256 }, limits: { memory: '1Gi' } },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }],
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      caBundle: { configMapKeyRef: { name: 'db-ca', key: 'ca.crt' } },
    },
  });
  const pod = fitted.spec!.template.spec!;
  const container = containerOf(fitted);

  it('carries resources (quantities as strings), node selector, tolerations and pod annotations', () => {
    expect(container.resources).toEqual({
      requests: { cpu: '250m', memory: '256' },
      limits: { memory: '1Gi' },
    });
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' },
    ]);
    expect(fitted.spec!.template.metadata!.annotations).toEqual({ 'sidecar.istio.io/inject': 'false' });
    // Without them the pod has none of these fields.
    const plain = buildBackupJob(input).spec!.template;
    expect(plain.metadata!.annotations).toBeUndefined();
    expect(plain.spec!.nodeSelector).toBeUndefined();
    expect(containerOf(buildBackupJob(input)).resources).toBeUndefined();
  });

  it('mounts a CA bundle read-only and points PGSSLROOTCERT at it, from a ConfigMap or a Secret', () => {
    expect(pod.volumes).toContainEqual({
      name: 'ca',
      configMap: { name: 'db-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
    expect(container.volumeMounts).toContainEqual({
      name: 'ca',
      mountPath: '/etc/schemaops/ca',
      readOnly: true,
    });
    expect(literalEnv(container).PGSSLROOTCERT).toBe('/etc/schemaops/ca/ca.crt');
    const fromSecret = buildBackupJob({
      ...input,
      backup: { ...input.backup, caBundle: { secretKeyRef: { name: 'db-tls', key: 'root.pem' } } },
    });
    expect(fromSecret.spec!.template.spec!.volumes).toContainEqual({
      name: 'ca',
      secret: { secretName: 'db-tls', items: [{ key: 'root.pem', path: 'root.pem' }] },
    });
    expect(literalEnv(containerOf(fromSecret)).PGSSLROOTCERT).toBe('/etc/schemaops/ca/root.pem');
  });
});

describe('the backup over TLS with sslmode=verify-full', () => {
  let server: PostgresServer;
  let tls: string;

  /** A CA, and a certificate for localhost it signed; another CA that signed nothing of ours. */
  function makeCertificates(dir: string): void {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const ca of ['ca', 'other-ca'])
      openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${ca}`,
        '-keyout',
        `${ca}.key`,
        '-out',
        `${ca}.crt`,
      );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    );
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    );
  }

  beforeAll(async () => {
    tls = mkdtempSync(join(tmpdir(), 'schemaops-tls-'));
    makeCertificates(tls);
    for (const dir of ['trusted', 'untrusted']) mkdirSync(join(tls, dir));
    server = await startPostgres({
      ssl: { certFile: join(tls, 'server.crt'), keyFile: join(tls, 'server.key') },
    });
  });

  afterAll(async () => {
    await server?.stop();
    if (tls) rmSync(tls, { recursive: true, force: true });
  });

  it('trusts the CA bundle PGSSLROOTCERT names, and refuses a server the bundle did not sign', async () => {
    const database = new URL(await server.createDatabase('tls'));
    await query(database.toString(), 'CREATE TABLE orders (id int)');
    database.hostname = 'localhost';
    database.search = '?sslmode=verify-full';
    const job = buildBackupJob({
      ...input,
      backup: { ...input.backup, caBundle: { configMapKeyRef: { name: 'db-ca', key: 'ca.crt' } } },
    });
    expect(literalEnv(containerOf(job)).PGSSLROOTCERT).toBe('/etc/schemaops/ca/ca.crt');
    // The mount's path, here a local file: what the kubelet puts at /etc/schemaops/ca/ca.crt.
    const trusted = runJobScript(job, {
      databaseUrl: database.toString(),
      backupDir: join(tls, 'trusted'),
      env: { PGSSLROOTCERT: join(tls, 'ca.crt') },
    });
    expect(trusted.stderr).not.toContain(server.password);
    expect(trusted.status).toBe(0);
    const untrusted = runJobScript(job, {
      databaseUrl: database.toString(),
      backupDir: join(tls, 'untrusted'),
      env: { PGSSLROOTCERT: join(tls, 'other-ca.crt') },
    });
    expect(untrusted.status).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate verify failed/);
  });
});
