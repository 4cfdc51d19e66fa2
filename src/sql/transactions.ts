import type {
  AlterDatabaseStmt,
  AlterEnumStmt,
  AlterSubscriptionStmt,
  AlterTableStmt,
  ClusterStmt,
  CreateSubscriptionStmt,
  DiscardStmt,
  DropStmt,
  IndexStmt,
  ReindexStmt,
  VacuumStmt,
} from 'libpg-query';
import type { ParsedStatement } from './parse.js';
import { findOption, hasOption, optionBoolean } from './tree.js';

export type TransactionNeed =
  /** Runs inside a transaction like most DDL and DML. */
  | 'any'
  /** PostgreSQL refuses it in a transaction block (its PreventInTransactionBlock callers). */
  | 'outside'
  /** ALTER TYPE … ADD VALUE: its transaction must commit before a later statement can use the value. */
  | 'commitAfter'
  /** Transaction control (BEGIN, COMMIT, SAVEPOINT, PREPARE TRANSACTION…): refused in a migration file. */
  | 'control';

export interface TransactionRule {
  readonly nodeType: string;
  readonly need: Exclude<TransactionNeed, 'any'>;
  /** What PostgreSQL calls the command, for messages. */
  readonly command: string;
  /** A statement the rule matches; the rule's test parses it. */
  readonly example: string;
  readonly applies?: (node: never) => boolean;
}

const reindexMultiple = ['REINDEX_OBJECT_SCHEMA', 'REINDEX_OBJECT_SYSTEM', 'REINDEX_OBJECT_DATABASE'];
const publicationChanges = [
  'ALTER_SUBSCRIPTION_SET_PUBLICATION',
  'ALTER_SUBSCRIPTION_ADD_PUBLICATION',
  'ALTER_SUBSCRIPTION_DROP_PUBLICATION',
];

/** Every statement that cannot run like ordinary DDL, from PostgreSQL 18's PreventInTransactionBlock callers. */
export const transactionRules: readonly TransactionRule[] = [
  { nodeType: 'TransactionStmt', need: 'control', command: 'transaction control', example: 'BEGIN' },
  {
    nodeType: 'AlterEnumStmt',
    need: 'commitAfter',
    command: 'ALTER TYPE … ADD VALUE',
    example: "ALTER TYPE mood ADD VALUE 'meh'",
    applies: (n: AlterEnumStmt) => n.oldVal === undefined,
  },
  {
    nodeType: 'IndexStmt',
    need: 'outside',
    command: 'CREATE INDEX CONCURRENTLY',
    example: 'CREATE INDEX CONCURRENTLY i ON t (a)',
    applies: (n: IndexStmt) => n.concurrent === true,
  },
  {
    nodeType: 'DropStmt',
    need: 'outside',
    command: 'DROP INDEX CONCURRENTLY',
    example: 'DROP INDEX CONCURRENTLY i',
    applies: (n: DropStmt) => n.concurrent === true,
  },
  {
    nodeType: 'ReindexStmt',
    need: 'outside',
    command: 'REINDEX CONCURRENTLY',
    example: 'REINDEX TABLE CONCURRENTLY t',
    applies: (n: ReindexStmt) => hasOption(n.params, 'concurrently'),
  },
  {
    nodeType: 'ReindexStmt',
    need: 'outside',
    command: 'REINDEX SCHEMA/SYSTEM/DATABASE',
    example: 'REINDEX SCHEMA app',
    applies: (n: ReindexStmt) => reindexMultiple.includes(n.kind ?? ''),
  },
  {
    nodeType: 'AlterTableStmt',
    need: 'outside',
    command: 'ALTER TABLE … DETACH PARTITION … CONCURRENTLY',
    example: 'ALTER TABLE t DETACH PARTITION p CONCURRENTLY',
    applies: (n: AlterTableStmt) =>
      (n.cmds ?? []).some((c) => 'AlterTableCmd' in c && detachesConcurrently(c.AlterTableCmd.def)),
  },
  {
    nodeType: 'VacuumStmt',
    need: 'outside',
    command: 'VACUUM',
    example: 'VACUUM ANALYZE t',
    applies: (n: VacuumStmt) => n.is_vacuumcmd === true,
  },
  {
    nodeType: 'ClusterStmt',
    need: 'outside',
    command: 'CLUSTER of every table',
    example: 'CLUSTER',
    applies: (n: ClusterStmt) => n.relation === undefined,
  },
  { nodeType: 'CreatedbStmt', need: 'outside', command: 'CREATE DATABASE', example: 'CREATE DATABASE d' },
  { nodeType: 'DropdbStmt', need: 'outside', command: 'DROP DATABASE', example: 'DROP DATABASE d' },
  {
    nodeType: 'AlterDatabaseStmt',
    need: 'outside',
    command: 'ALTER DATABASE … SET TABLESPACE',
    example: 'ALTER DATABASE d SET TABLESPACE fast',
    applies: (n: AlterDatabaseStmt) => findOption(n.options, 'tablespace') !== undefined,
  },
  {
    nodeType: 'CreateTableSpaceStmt',
    need: 'outside',
    command: 'CREATE TABLESPACE',
    example: "CREATE TABLESPACE fast LOCATION '/ssd'",
  },
  {
    nodeType: 'DropTableSpaceStmt',
    need: 'outside',
    command: 'DROP TABLESPACE',
    example: 'DROP TABLESPACE fast',
  },
  {
    nodeType: 'AlterSystemStmt',
    need: 'outside',
    command: 'ALTER SYSTEM',
    example: 'ALTER SYSTEM SET work_mem = 1',
  },
  {
    nodeType: 'DiscardStmt',
    need: 'outside',
    command: 'DISCARD ALL',
    example: 'DISCARD ALL',
    applies: (n: DiscardStmt) => n.target === 'DISCARD_ALL',
  },
  {
    nodeType: 'CreateSubscriptionStmt',
    need: 'outside',
    command: 'CREATE SUBSCRIPTION … WITH (create_slot = true)',
    example: "CREATE SUBSCRIPTION s CONNECTION 'host=a' PUBLICATION p",
    applies: (n: CreateSubscriptionStmt) =>
      optionBoolean(n.options, 'connect') !== false && optionBoolean(n.options, 'create_slot') !== false,
  },
  // Whether the subscription has a slot is in the catalog, not the statement: assume it has one.
  {
    nodeType: 'DropSubscriptionStmt',
    need: 'outside',
    command: 'DROP SUBSCRIPTION',
    example: 'DROP SUBSCRIPTION s',
  },
  {
    nodeType: 'AlterSubscriptionStmt',
    need: 'outside',
    command: 'ALTER SUBSCRIPTION … REFRESH PUBLICATION',
    example: 'ALTER SUBSCRIPTION s REFRESH PUBLICATION',
    applies: (n: AlterSubscriptionStmt) =>
      n.kind === 'ALTER_SUBSCRIPTION_REFRESH' ||
      (publicationChanges.includes(n.kind ?? '') && optionBoolean(n.options, 'refresh') !== false),
  },
];

function detachesConcurrently(def: unknown): boolean {
  return typeof def === 'object' && def !== null && 'PartitionCmd' in def
    ? (def.PartitionCmd as { concurrent?: boolean }).concurrent === true
    : false;
}

/** The first rule that matches the statement, if any. */
export function transactionRuleFor(s: ParsedStatement): TransactionRule | undefined {
  return transactionRules.find(
    (r) => r.nodeType === s.nodeType && (r.applies === undefined || r.applies(s.node as never)),
  );
}

/** How the statement must be placed relative to transactions, judged from its parse tree. */
export function transactionNeed(s: ParsedStatement): TransactionNeed {
  return transactionRuleFor(s)?.need ?? 'any';
}
