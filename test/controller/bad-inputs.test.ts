import { describe, expect, it } from '@jest/globals';
import { currentRevision, migrateToTarget } from '../../src/migrations/engine.js';
import { parseTarget } from '../../src/migrations/target.js';
import { query } from '../support/db.js';
import { files } from './fixtures.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  deployment,
  isStalled,
  listBackupJobs,
  migrationSpec,
  harnessForFile,
  type Fixture,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const options = { files, workload: { kind: 'Deployment' as const, replicas: 3 }, pvc: true };
/** The password in every bad URL below: it must appear nowhere. */
const PASSWORD = 'Hunter2secret';

/** What the database looks like: its revision and its tables. */
async function snapshot(f: Fixture): Promise<unknown> {
  return {
    revision: await currentRevision({ databaseUrl: f.databaseUrl }),
    tables: await query(
      f.databaseUrl,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    ),
  };
}

/** No scale-down, no Job, the database as it was. */
async function expectUntouched(f: Fixture, before: unknown): Promise<void> {
  const workload = await deployment(h, f);
  expect(workload).toMatchObject({ replicas: 3, currentReplicas: 3 });
  expect(workload?.annotations).not.toHaveProperty(['schemaops.dev/original-replicas']);
  expect(await listBackupJobs(h, f)).toEqual([]);
  expect(await snapshot(f)).toEqual(before);
}

async function secret(f: Fixture, name: string, url: string): Promise<void> {
  await h.core.createNamespacedSecret({
    namespace: f.namespace,
    body: { metadata: { name }, stringData: { url } },
  });
}

/** The database already at `revision` (migrated by the engine directly, as another tool would have). */
const migratedTo =
  (revision: string, with_: Record<string, string> = files) =>
  async (f: Fixture) => {
    await migrateToTarget({ databaseUrl: f.databaseUrl }, with_, parseTarget(revision));
  };

const badUrl = (url: string) => async (f: Fixture) => secret(f, 'bad-db', url);
const badUrlSpec = { database: { urlFrom: { secretKeyRef: { name: 'bad-db', key: 'url' } } } };

interface BadInput {
  what: string;
  spec?: Record<string, unknown>;
  files?: Record<string, string>;
  setup?: (f: Fixture) => Promise<void>;
  reason: string;
  /** Strings the Stalled message must contain: the field, file or object at fault. */
  names: string[];
}

const irreversible = {
  ...files,
  '4_backfill.sql': '-- Up Migration\nUPDATE orders SET total = total + 1;\n',
};
const edited = { ...files, '2_add-note.sql': files['2_add-note.sql']!.replace("''", "'n/a'") };
const renamed = (() => {
  const { ['2_add-note.sql']: note, ...rest } = files;
  return { ...rest, '2_add-notes.sql': note! };
})();
const withoutSecond = (() => {
  const { ['2_add-note.sql']: _second, ...rest } = files;
  return rest;
})();

const refusedByOperator: BadInput[] = [
  {
    what: 'a zero duration (the CRD pattern lets it through)',
    spec: { timeouts: { scaleDown: '0s' } },
    reason: 'InvalidSpec',
    names: ['spec.timeouts.scaleDown'],
  },
  {
    what: 'a malformed target',
    spec: { targetRevision: 'drop table orders' },
    reason: 'InvalidSpec',
    names: ['spec.targetRevision'],
  },
  {
    what: 'a missing Secret',
    spec: { database: { urlFrom: { secretKeyRef: { name: 'nope', key: 'url' } } } },
    reason: 'SecretNotFound',
    names: ['Secret', '/nope', 'spec.database.urlFrom'],
  },
  {
    what: 'a missing Secret key',
    spec: { database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'dsn' } } } },
    reason: 'SecretKeyNotFound',
    names: ['/orders-db', '"dsn"'],
  },
  {
    what: 'a libpq keyword string in place of a URL',
    setup: badUrl(`host=127.0.0.1 port=5432 dbname=orders user=app password=${PASSWORD}`),
    spec: badUrlSpec,
    reason: 'InvalidDatabaseURL',
    names: ['Secret', '/bad-db', 'key "url"', 'not a URL'],
  },
  {
    what: 'a URL of another database',
    setup: badUrl(`mysql://app:${PASSWORD}@127.0.0.1:3306/orders`),
    spec: badUrlSpec,
    reason: 'InvalidDatabaseURL',
    names: ['/bad-db', 'key "url"', 'postgres://'],
  },
  {
    what: 'a URL without a host',
    setup: badUrl(`postgres:///orders?password=${PASSWORD}`),
    spec: badUrlSpec,
    reason: 'InvalidDatabaseURL',
    names: ['/bad-db', 'no host'],
  },
  {
    what: 'a URL with a broken %-escape',
    setup: badUrl(`postgres://app:${PASSWORD}%E0%A4%A@127.0.0.1:5432/orders`),
    spec: badUrlSpec,
    reason: 'InvalidDatabaseURL',
    names: ['/bad-db', '%-escape'],
  },
  {
    what: 'a bare word',
    setup: badUrl(PASSWORD),
    spec: badUrlSpec,
    reason: 'InvalidDatabaseURL',
    names: ['/bad-db', 'key "url"'],
  },
  {
    what: 'a missing ConfigMap',
    spec: { migrations: { configMaps: [{ name: 'gone' }] } },
    reason: 'ConfigMapNotFound',
    names: ['ConfigMap', '/gone', 'spec.migrations.configMaps'],
  },
  {
    what: 'no ConfigMap matching the selector',
    spec: { migrations: { selector: { matchLabels: { app: 'none' } } } },
    reason: 'NoMigrationsFound',
    names: ['spec.migrations.selector'],
  },
  {
    what: 'a missing backup PVC',
    spec: { backup: { pvc: 'no-pvc' } },
    reason: 'BackupPvcNotFound',
    names: ['PersistentVolumeClaim', '/no-pvc', 'spec.backup.pvc'],
  },
  {
    what: 'an unknown target',
    spec: { targetRevision: '9_nothing' },
    reason: 'UnknownTarget',
    names: ['9_nothing'],
  },
  {
    what: 'a file without an up section',
    files: { ...files, '4_no-up.sql': 'CREATE TABLE audit (id int);\n' },
    reason: 'InvalidMigrationFile',
    names: ['4_no-up.sql', 'Up Migration'],
  },
  {
    what: 'a file name without a number',
    files: { ...files, 'add-index.sql': '-- Up Migration\nSELECT 1;\n' },
    reason: 'InvalidMigrationFile',
    names: ['add-index.sql'],
  },
  {
    what: 'split up/down files',
    files: { ...files, '4_audit.up.sql': '-- Up Migration\nSELECT 1;\n' },
    reason: 'InvalidMigrationFile',
    names: ['4_audit.up.sql'],
  },
  {
    what: 'the down section before the up section',
    files: { ...files, '4_audit.sql': '-- Down Migration\nSELECT 1;\n-- Up Migration\nSELECT 1;\n' },
    reason: 'InvalidMigrationFile',
    names: ['4_audit.sql'],
  },
  {
    what: 'SQL that PostgreSQL cannot parse',
    files: { ...files, '4_typo.sql': '-- Up Migration\nALTR TABLE orders ADD COLUMN x int;\n' },
    reason: 'InvalidSql',
    names: ['4_typo.sql:2'],
  },
  {
    what: 'transaction control inside a migration',
    files: {
      ...files,
      '4_commit.sql':
        '-- Up Migration\nCOMMIT;\nCREATE TABLE audit (id int);\n-- Down Migration\nDROP TABLE audit;\n',
    },
    reason: 'InvalidMigrationFile',
    names: ['4_commit.sql'],
  },
  {
    what: 'an applied file changed since (checksum drift)',
    files: edited,
    setup: migratedTo('2_add-note'),
    reason: 'ChecksumDrift',
    names: ['2_add-note.sql'],
  },
  {
    what: 'an applied file renamed',
    files: renamed,
    setup: migratedTo('2_add-note'),
    reason: 'RenamedMigration',
    names: ['2_add-notes.sql', '2_add-note.sql'],
  },
  {
    what: 'a new file that sorts before an applied one',
    setup: migratedTo('3_create-customers', withoutSecond),
    reason: 'OutOfOrderMigration',
    names: ['2_add-note.sql', '3_create-customers'],
  },
  {
    what: 'a rollback through a file without a down section',
    files: irreversible,
    setup: migratedTo('4_backfill', irreversible),
    spec: { targetRevision: '2_add-note' },
    reason: 'IrreversibleMigration',
    names: ['4_backfill.sql'],
  },
  {
    what: 'a rollback that drops data without policy.allowDataLoss',
    setup: migratedTo('2_add-note'),
    spec: { targetRevision: '1_create-orders', policy: { allowDataLoss: false } },
    reason: 'DataLossNotAllowed',
    names: ['2_add-note.sql:4', 'spec.policy.allowDataLoss'],
  },
];

describe('bad input is refused before any action, naming what is wrong', () => {
  it.each(refusedByOperator.map((c) => [c.what, c] as const))('%s', async (_what, bad) => {
    const fixture = { ...options, files: bad.files ?? files };
    const f = await createFixture(h, fixture);
    await bad.setup?.(f);
    const before = await snapshot(f);
    await createMigration(h, f, migrationSpec(fixture, bad.spec ?? {}));
    await converge(h, f, (o) => isStalled(o) && condition(o, 'Stalled')?.reason === bad.reason);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.phase).toBe('Stalled');
    expect(condition(object, 'Ready')?.status).toBe('False');
    expect(condition(object, 'Reconciling')?.status).toBe('False');
    const message = condition(object, 'Stalled')?.message ?? '';
    for (const name of bad.names) expect(message).toContain(name);
    expect(JSON.stringify(object)).not.toContain(PASSWORD);
    await expectUntouched(f, before);
  });
});

interface ApiRefusal {
  what: string;
  spec: Record<string, unknown>;
  field: string;
}

const refusedByApi: ApiRefusal[] = [
  {
    what: 'an unknown workload kind',
    spec: { workload: { kind: 'CronJob', name: 'orders-api' } },
    field: 'spec.workload.kind',
  },
  {
    what: 'a workload name that is no object name',
    spec: { workload: { kind: 'Deployment', name: 'Orders API' } },
    field: 'spec.workload.name',
  },
  {
    what: 'a duration in words',
    spec: { timeouts: { migration: '5 minutes' } },
    field: 'spec.timeouts.migration',
  },
  {
    what: 'a backup retaining nothing',
    spec: { backup: { pvc: 'orders-backups', retain: 0 } },
    field: 'spec.backup.retain',
  },
  { what: 'an empty target', spec: { targetRevision: '' }, field: 'spec.targetRevision' },
  {
    what: 'both configMaps and a selector',
    spec: {
      migrations: {
        configMaps: [{ name: 'orders-migrations' }],
        selector: { matchLabels: { app: 'orders' } },
      },
    },
    field: 'spec.migrations',
  },
  {
    what: 'an empty configMaps list',
    spec: { migrations: { configMaps: [] } },
    field: 'spec.migrations.configMaps',
  },
  {
    what: 'an unknown onFailure policy',
    spec: { policy: { onFailure: 'Ignore' } },
    field: 'spec.policy.onFailure',
  },
  {
    what: 'an unknown approval policy',
    spec: { policy: { approval: 'Sometimes' } },
    field: 'spec.policy.approval',
  },
  {
    what: 'a Secret name that is no object name',
    spec: { database: { urlFrom: { secretKeyRef: { name: 'Orders_DB', key: 'url' } } } },
    field: 'spec.database.urlFrom.secretKeyRef.name',
  },
  {
    what: 'a migrations table name over 63 characters',
    spec: {
      database: {
        urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } },
        migrationsTable: 'm'.repeat(64),
      },
    },
    field: 'spec.database.migrationsTable',
  },
  { what: 'no database at all', spec: { database: undefined }, field: 'spec.database' },
];

describe('bad input the CRD schema refuses never reaches the operator', () => {
  it.each(refusedByApi.map((c) => [c.what, c] as const))(
    '%s: kube-apiserver answers 422 naming the field',
    async (_what, bad) => {
      const f = await createFixture(h, options);
      const before = await snapshot(f);
      const refused = await createMigration(h, f, migrationSpec(options, bad.spec)).catch(
        (err: unknown) => err,
      );
      expect(refused).toMatchObject({ code: 422 });
      expect(String((refused as { body?: unknown }).body)).toContain(bad.field);
      expect(await h.kube.getSchemaMigration(f.ref)).toBeUndefined();
      await expectUntouched(f, before);
    },
  );
});
