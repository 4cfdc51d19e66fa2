import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import {
  converge,
  createFixture,
  createMigration,
  isReady,
  migrationSpec,
  startHarness,
  type Harness,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const MIGRATIONS = 120;
/** A long comment in each file, as real sets carry (licence headers, generated notes): ~12 KiB a file. */
const padding = `-- ${'x'.repeat(120)}\n`.repeat(100);

function largeSet(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= MIGRATIONS; i++) {
    files[`${String(i).padStart(4, '0')}_step-${i}.sql`] =
      `-- Up Migration\n${padding}CREATE TABLE t${i} (id int);\nINSERT INTO t${i} VALUES (${i});\n` +
      `-- Down Migration\nDROP TABLE t${i};\n`;
  }
  return files;
}

const bytes = (files: Record<string, string>) =>
  Object.values(files).reduce((sum, text) => sum + Buffer.byteLength(text), 0);

describe('a migration set larger than one ConfigMap', () => {
  it('is refused whole by kube-apiserver, and migrates from several ConfigMaps chosen by a selector', async () => {
    const files = largeSet();
    expect(bytes(files)).toBeGreaterThan(1024 * 1024);
    const f = await createFixture(h, { files: {} });
    const oneConfigMap = await h.core
      .createNamespacedConfigMap({ namespace: f.namespace, body: { metadata: { name: 'all' }, data: files } })
      .catch((err: unknown) => err);
    expect(oneConfigMap).toMatchObject({ code: 422 });

    const names = Object.keys(files).sort();
    const parts = 3;
    for (let p = 0; p < parts; p++) {
      const data = Object.fromEntries(
        names.filter((_, i) => i % parts === p).map((name) => [name, files[name]!]),
      );
      await h.core.createNamespacedConfigMap({
        namespace: f.namespace,
        body: { metadata: { name: `orders-migrations-${p}`, labels: { set: 'orders' } }, data },
      });
    }
    await createMigration(
      h,
      f,
      migrationSpec({ files }, { migrations: { selector: { matchLabels: { set: 'orders' } } } }),
    );
    await converge(h, f, isReady, { timeoutMs: 120_000 });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe(names.at(-1)!.slice(0, -4));
    const [tables] = await query<{ n: number }>(
      f.databaseUrl,
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'",
    );
    expect(tables?.n).toBe(MIGRATIONS);
  });
});
