import type {
  AlterTableStmt,
  CallStmt,
  DeleteStmt,
  DropStmt,
  ExecuteStmt,
  FuncCall,
  Node,
  TruncateStmt,
  UpdateStmt,
} from 'libpg-query';
import { functionDisplayName, isPureFunctionCall } from './functions.js';
import { displayIdent, displayName } from './names.js';
import type { ParsedStatement } from './parse.js';
import {
  droppedObjectName,
  findOption,
  nameParts,
  rangeVarName,
  collectNodes,
  type ObjectName,
} from './tree.js';

export type LossKind =
  | 'drop-table'
  | 'drop-column'
  | 'drop-schema'
  | 'drop-type'
  | 'drop-domain'
  | 'drop-extension'
  | 'drop-sequence'
  | 'drop-materialized-view'
  | 'truncate'
  | 'delete-all'
  | 'update-all'
  | 'alter-column-type';

/** What one rule sees in one statement, before the plan says whether it created the object. */
export type Finding =
  | {
      readonly kind: LossKind;
      readonly object: ObjectName & { readonly column?: string };
      readonly cascade: boolean;
      readonly description: string;
    }
  | { readonly kind: 'not-analysable'; readonly description: string; readonly why: string };

export interface LossRule {
  /** What the rule reports. */
  readonly flags: Finding['kind'];
  /** A statement the rule flags; the rule's test analyses it. */
  readonly example: string;
  readonly nodeTypes: readonly string[];
  readonly find: (node: never, s: ParsedStatement) => Finding[];
}

const dropped: readonly (readonly [removeType: string, kind: LossKind, command: string, example: string])[] =
  [
    ['OBJECT_TABLE', 'drop-table', 'DROP TABLE', 'DROP TABLE invoices, archive.invoices'],
    ['OBJECT_SCHEMA', 'drop-schema', 'DROP SCHEMA', 'DROP SCHEMA archive CASCADE'],
    ['OBJECT_TYPE', 'drop-type', 'DROP TYPE', 'DROP TYPE mood CASCADE'],
    ['OBJECT_DOMAIN', 'drop-domain', 'DROP DOMAIN', 'DROP DOMAIN email CASCADE'],
    ['OBJECT_EXTENSION', 'drop-extension', 'DROP EXTENSION', 'DROP EXTENSION IF EXISTS hstore CASCADE'],
    ['OBJECT_SEQUENCE', 'drop-sequence', 'DROP SEQUENCE', 'DROP SEQUENCE invoice_numbers'],
    ['OBJECT_MATVIEW', 'drop-materialized-view', 'DROP MATERIALIZED VIEW', 'DROP MATERIALIZED VIEW totals'],
  ];

const columnChanges: readonly (readonly [subtype: string, kind: LossKind, example: string])[] = [
  ['AT_DropColumn', 'drop-column', 'ALTER TABLE invoices DROP COLUMN note'],
  [
    'AT_AlterColumnType',
    'alter-column-type',
    'ALTER TABLE invoices ALTER COLUMN total TYPE int USING total::int',
  ],
];

// Statements whose query runs now (not a rule's or a function's body, not a plain EXPLAIN), by command.
const queryCommands: Record<string, string> = {
  SelectStmt: 'SELECT',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  CreateTableAsStmt: 'CREATE TABLE AS',
  CopyStmt: 'COPY',
  ExplainStmt: 'EXPLAIN ANALYZE',
};
const queryStatements = Object.keys(queryCommands);

const cascadeSuffix = (cascade: boolean): string => (cascade ? ' CASCADE' : '');

/** Every way a statement can destroy data, or hide what it does, judged from the parse tree. */
export const lossRules: readonly LossRule[] = [
  ...dropped.map(([removeType, kind, command, example]) => ({
    flags: kind,
    example,
    nodeTypes: ['DropStmt'],
    find: (n: DropStmt): Finding[] => {
      if (n.removeType !== removeType) return [];
      const cascade = n.behavior === 'DROP_CASCADE';
      return (n.objects ?? []).flatMap((o) => {
        const object = droppedObjectName(o);
        if (!object) return [];
        return [
          {
            kind,
            object,
            cascade,
            description: `${command} ${displayName(object)}${cascadeSuffix(cascade)}`,
          },
        ];
      });
    },
  })),
  ...columnChanges.map(([subtype, kind, example]) => ({
    flags: kind,
    example,
    nodeTypes: ['AlterTableStmt'],
    find: (n: AlterTableStmt): Finding[] => columnLosses(n, subtype, kind),
  })),
  {
    flags: 'truncate',
    example: 'TRUNCATE invoices, archive.invoices RESTART IDENTITY',
    nodeTypes: ['TruncateStmt'],
    find: (n: TruncateStmt): Finding[] => {
      const cascade = n.behavior === 'DROP_CASCADE';
      return (n.relations ?? []).flatMap((r) => {
        const object = 'RangeVar' in r ? rangeVarName(r.RangeVar) : undefined;
        if (!object) return [];
        return [
          {
            kind: 'truncate',
            object,
            cascade,
            description: `TRUNCATE ${displayName(object)}${cascadeSuffix(cascade)}`,
          },
        ];
      });
    },
  },
  {
    flags: 'delete-all',
    example: 'WITH gone AS (DELETE FROM invoices RETURNING *) SELECT count(*) FROM gone',
    nodeTypes: queryStatements,
    find: (_n: never, s: ParsedStatement) =>
      unfilteredWrites(s, 'DeleteStmt').map(([stmt, nested]) =>
        wholeTable('delete-all', (stmt as DeleteStmt).relation, `DELETE FROM`, nested),
      ),
  },
  {
    flags: 'update-all',
    example: "UPDATE invoices SET status = 'void'",
    nodeTypes: queryStatements,
    find: (_n: never, s: ParsedStatement) =>
      unfilteredWrites(s, 'UpdateStmt').map(([stmt, nested]) =>
        wholeTable('update-all', (stmt as UpdateStmt).relation, 'UPDATE', nested),
      ),
  },
  {
    flags: 'not-analysable',
    example: 'SELECT archive_old_invoices()',
    nodeTypes: queryStatements,
    find: (_n: never, s: ParsedStatement): Finding[] => {
      const calls = executedTree(s)
        .filter(([t]) => t === 'FuncCall')
        .map(([, f]) => f as FuncCall);
      const unknown = [...new Set(calls.filter((c) => !isPureFunctionCall(c)).map(functionDisplayName))];
      if (unknown.length === 0) return [];
      const description = `${queryCommands[s.nodeType] ?? s.nodeType} calling ${unknown.map((f) => `${f}()`).join(', ')}`;
      return [
        {
          kind: 'not-analysable',
          description,
          why: 'a function can change data the statement does not name',
        },
      ];
    },
  },
  {
    flags: 'not-analysable',
    example: 'DO $$ BEGIN EXECUTE format($q$DROP TABLE %I$q$, x); END $$',
    nodeTypes: ['DoStmt'],
    find: (): Finding[] => [
      { kind: 'not-analysable', description: 'DO block', why: 'procedural code is not read as SQL here' },
    ],
  },
  {
    flags: 'not-analysable',
    example: 'CALL archive_invoices(2020)',
    nodeTypes: ['CallStmt'],
    find: (n: CallStmt): Finding[] => [
      {
        kind: 'not-analysable',
        description: `CALL ${nameParts(n.funccall?.funcname).join('.')}(…)`,
        why: 'a procedure can change data the statement does not name',
      },
    ],
  },
  {
    flags: 'not-analysable',
    example: 'EXECUTE purge(2020)',
    nodeTypes: ['ExecuteStmt'],
    find: (n: ExecuteStmt): Finding[] => [
      {
        kind: 'not-analysable',
        description: `EXECUTE ${displayIdent(n.name ?? '')}`,
        why: 'the prepared statement was not planned with this one',
      },
    ],
  },
  {
    flags: 'not-analysable',
    example: 'DROP OWNED BY legacy_app',
    nodeTypes: ['DropOwnedStmt'],
    find: (): Finding[] => [
      { kind: 'not-analysable', description: 'DROP OWNED', why: 'drops objects the statement does not name' },
    ],
  },
  {
    flags: 'not-analysable',
    example: 'DROP DATABASE legacy',
    nodeTypes: ['DropdbStmt'],
    find: (): Finding[] => [
      {
        kind: 'not-analysable',
        description: 'DROP DATABASE',
        why: 'drops a whole database, not measured here',
      },
    ],
  },
];

function columnLosses(n: AlterTableStmt, subtype: string, kind: LossKind): Finding[] {
  const table = rangeVarName(n.relation);
  if (!table || n.objtype !== 'OBJECT_TABLE') return [];
  return (n.cmds ?? []).flatMap((c) => {
    const cmd = 'AlterTableCmd' in c ? c.AlterTableCmd : undefined;
    if (cmd?.subtype !== subtype || cmd.name === undefined) return [];
    const cascade = cmd.behavior === 'DROP_CASCADE';
    const column = displayIdent(cmd.name);
    const change =
      kind === 'drop-column'
        ? `DROP COLUMN ${column}${cascadeSuffix(cascade)}`
        : `ALTER COLUMN ${column} TYPE …`;
    return [
      {
        kind,
        object: { ...table, column: cmd.name },
        cascade,
        description: `ALTER TABLE ${displayName(table)} ${change}`,
      },
    ];
  });
}

const executedTrees = new WeakMap<ParsedStatement, [string, Record<string, unknown>][]>();

/** The part of a statement PostgreSQL executes now, as [type, fields] nodes (read once per statement). */
function executedTree(s: ParsedStatement): [string, Record<string, unknown>][] {
  let nodes = executedTrees.get(s);
  if (!nodes) {
    const node = s.node as { query?: unknown; options?: Node[] };
    const explainOnly = s.nodeType === 'ExplainStmt' && findOption(node.options, 'analyze') === undefined;
    const inner = s.nodeType === 'ExplainStmt' || s.nodeType === 'CopyStmt';
    nodes = explainOnly ? [] : collectNodes(inner ? node.query : { [s.nodeType]: s.node });
    executedTrees.set(s, nodes);
  }
  return nodes;
}

/** UPDATEs or DELETEs without WHERE anywhere in what runs, each with whether it sits inside another statement. */
function unfilteredWrites(s: ParsedStatement, nodeType: 'DeleteStmt' | 'UpdateStmt'): [unknown, boolean][] {
  return executedTree(s)
    .filter(([t, fields]) => t === nodeType && fields.whereClause === undefined)
    .map(([, fields]) => [fields, fields !== s.node]);
}

function wholeTable(kind: LossKind, rv: DeleteStmt['relation'], command: string, nested: boolean): Finding {
  const object = rangeVarName(rv) ?? { name: '?' };
  const where = nested ? ' (in a WITH query)' : '';
  return {
    kind,
    object,
    cascade: false,
    description: `${command} ${displayName(object)} without WHERE${where}`,
  };
}

/** Everything the rules find in one statement. */
export function findingsOf(s: ParsedStatement): Finding[] {
  return lossRules.filter((r) => r.nodeTypes.includes(s.nodeType)).flatMap((r) => r.find(s.node as never, s));
}
