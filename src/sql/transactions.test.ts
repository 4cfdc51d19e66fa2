import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  loadSqlParser,
  parseStatements,
  transactionNeed,
  transactionRules,
  type TransactionNeed,
} from './index.js';

beforeAll(async () => {
  await loadSqlParser();
});

function needOf(sql: string): TransactionNeed {
  const [s, ...rest] = parseStatements(sql, 'f.sql');
  expect(rest).toHaveLength(0);
  return transactionNeed(s!);
}

describe('transactionRules', () => {
  it.each(transactionRules.map((r) => [r.command, r.example, r.need] as const))(
    '%s: its example %j needs %s',
    (_command, example, need) => {
      expect(needOf(example)).toBe(need);
    },
  );
});

describe('transactionNeed', () => {
  it.each<[string, TransactionNeed]>([
    ['BEGIN', 'control'],
    ['START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'control'],
    ['COMMIT', 'control'],
    ['END', 'control'],
    ['ROLLBACK', 'control'],
    ['ABORT', 'control'],
    ['SAVEPOINT a', 'control'],
    ['RELEASE SAVEPOINT a', 'control'],
    ['ROLLBACK TO SAVEPOINT a', 'control'],
    ["PREPARE TRANSACTION 'x'", 'control'],
    ["COMMIT PREPARED 'x'", 'control'],
    ["ROLLBACK PREPARED 'x'", 'control'],
    ["ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' BEFORE 'sad'", 'commitAfter'],
    ["ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", 'any'],
    ['CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)', 'outside'],
    ['CREATE UNIQUE INDEX i ON t (a)', 'any'],
    ['DROP INDEX CONCURRENTLY IF EXISTS i', 'outside'],
    ['DROP INDEX i', 'any'],
    ['REINDEX (CONCURRENTLY) INDEX i', 'outside'],
    ['REINDEX INDEX CONCURRENTLY i', 'outside'],
    ['REINDEX DATABASE d', 'outside'],
    ['REINDEX SYSTEM', 'outside'],
    ['REINDEX TABLE t', 'any'],
    ['VACUUM', 'outside'],
    ['VACUUM (FULL) t', 'outside'],
    ['ANALYZE t', 'any'],
    ['CLUSTER t USING i', 'any'],
    ['CLUSTER', 'outside'],
    ['CREATE DATABASE d', 'outside'],
    ['DROP DATABASE IF EXISTS d', 'outside'],
    ['ALTER DATABASE d SET TABLESPACE fast', 'outside'],
    ['ALTER DATABASE d SET work_mem = 1', 'any'],
    ['ALTER SYSTEM RESET ALL', 'outside'],
    ["CREATE TABLESPACE fast LOCATION '/ssd'", 'outside'],
    ['DROP TABLESPACE fast', 'outside'],
    ['DISCARD ALL', 'outside'],
    ['DISCARD PLANS', 'any'],
    ['ALTER TABLE t DETACH PARTITION p CONCURRENTLY', 'outside'],
    ['ALTER TABLE t DETACH PARTITION p', 'any'],
    ["CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (create_slot = false)", 'any'],
    ["CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (connect = false)", 'any'],
    ['ALTER SUBSCRIPTION s ADD PUBLICATION p', 'outside'],
    ['ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)', 'any'],
    ['ALTER SUBSCRIPTION s DISABLE', 'any'],
    ['REFRESH MATERIALIZED VIEW CONCURRENTLY m', 'any'],
    ['CREATE TABLE begin_commit (savepoint int)', 'any'],
    ["INSERT INTO t VALUES ('COMMIT; VACUUM')", 'any'],
  ])('%s → %s', (sql, need) => {
    expect(needOf(sql)).toBe(need);
  });
});
