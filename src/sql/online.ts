import type {
  AlterTableCmd,
  AlterTableStmt,
  ColumnDef,
  Constraint,
  CreateFunctionStmt,
  CreateStmt,
  FuncCall,
  IndexStmt,
  InsertStmt,
  Node,
  RangeVar,
  UpdateStmt,
  DeleteStmt,
  ViewStmt,
} from 'libpg-query';
import { creationsOf } from './creations.js';
import { nameParts, collectNodes, rangeVarName, type ObjectName } from './tree.js';
import type { ParsedStatement } from './parse.js';
import { findSquawk, runSquawk, type LintedSegment, type SquawkViolation } from './squawk.js';

/** Whether a plan may run with the app up, the rule that decided and why, in one sentence. */
export interface OnlineSafety {
  readonly online: boolean;
  /** `direction`, `data-loss`, `squawk:<rule>`, `squawk-unavailable`, `parser:<kind>` or `additive`. */
  readonly rule: string;
  readonly reason: string;
}

/** What the decision reads of a plan (src/migrations/planner.ts Plan has this shape). */
export interface OnlinePlan {
  readonly direction: 'up' | 'down';
  readonly destructive: boolean;
  readonly migrations: readonly { readonly statements: readonly ParsedStatement[] }[];
  readonly segments: readonly {
    readonly transaction: boolean;
    readonly steps: readonly (
      | { readonly kind: 'statement'; readonly file: string; readonly line: number; readonly sql: string }
      | { readonly kind: 'record' }
    )[];
  }[];
}

export interface OnlineSafetyOptions {
  /** The squawk binary; default: findSquawk() ($SCHEMAOPS_SQUAWK, else the squawk-cli platform package). */
  readonly squawk?: string | undefined;
}

const REASON_LIMIT = 300;

const bounded = (text: string): string =>
  text.length <= REASON_LIMIT ? text : `${text.slice(0, REASON_LIMIT - 1)}…`;

const verdict = (online: boolean, rule: string, reason: string): OnlineSafety => ({
  online,
  rule,
  reason: bounded(reason),
});

/**
 * Whether the plan can run while the app keeps serving: a Down or destructive plan never can; then squawk's
 * lock-safety rules; then, statement by statement, an allow-list of changes the old code cannot trip over
 * that hold no lock long. Where squawk cannot run, the answer is "not online" and says so.
 */
export async function onlineSafety(
  plan: OnlinePlan,
  options: OnlineSafetyOptions = {},
): Promise<OnlineSafety> {
  if (plan.direction === 'down')
    return verdict(false, 'direction', 'a rollback removes what the running app may use');
  if (plan.destructive)
    return verdict(false, 'data-loss', 'the plan drops or rewrites data the running app may use');
  const binary = options.squawk === undefined ? findSquawk() : { path: options.squawk };
  if ('missing' in binary)
    return verdict(false, 'squawk-unavailable', `the lock-safety linter cannot run (${binary.missing})`);
  const linted = await runSquawk(binary.path, lintedSegments(plan));
  if (!linted.ok)
    return verdict(false, 'squawk-unavailable', `the lock-safety linter failed: ${linted.error}`);
  const first = linted.violations[0];
  if (first) return squawkVerdict(first);
  const refused = firstRefusal(plan);
  if (refused) return refused;
  const count = plan.migrations.reduce((n, m) => n + m.statements.length, 0);
  return verdict(
    true,
    'additive',
    `all ${count} statement(s) only add what the running app cannot trip over`,
  );
}

function lintedSegments(plan: OnlinePlan): LintedSegment[] {
  return plan.segments.map((s) => ({
    transaction: s.transaction,
    statements: s.steps.flatMap((step) =>
      step.kind === 'statement' ? [{ file: step.file, line: step.line, sql: step.sql }] : [],
    ),
  }));
}

function squawkVerdict(v: SquawkViolation): OnlineSafety {
  const where = v.statement ? `${v.statement.file}:${v.statement.line}: ` : '';
  return verdict(false, `squawk:${v.rule}`, `${where}${v.message}`);
}

/** The tables this plan creates, by name as written (`schema.name` or `name`), before the statement at `until`. */
class CreatedTables {
  private readonly names = new Set<string>();

  add(s: ParsedStatement): void {
    for (const c of creationsOf(s.nodeType, s.node)) {
      if (c.category === 'relation' && !c.ifAbsent) this.names.add(key(c.object));
    }
  }

  has(rv: RangeVar | undefined): boolean {
    const name = rangeVarName(rv);
    return name !== undefined && this.names.has(key(name));
  }
}

const key = (o: ObjectName): string => `${o.schema === 'public' ? '' : (o.schema ?? '')}.${o.name}`;

function firstRefusal(plan: OnlinePlan): OnlineSafety | undefined {
  const created = new CreatedTables();
  for (const m of plan.migrations) {
    for (const s of m.statements) {
      const refusal = onlineRuleFor(s, created);
      if (refusal) return verdict(false, `parser:${refusal.kind}`, `${s.file}:${s.line}: ${refusal.why}`);
      created.add(s);
    }
  }
  return undefined;
}

/** Why a statement is not online-safe; undefined when it is. */
export interface Refusal {
  readonly kind: string;
  readonly why: string;
}

type Check = (node: never, created: CreatedTables) => Refusal | undefined;

const ok = undefined;

/**
 * The allow-list, by node type: what is here may run with the app up (under its condition); any other
 * statement scales the app down. Each entry's test parses its examples (src/sql/online.test.ts).
 */
export const onlineRules: Readonly<Record<string, Check>> = {
  CreateStmt: (n: CreateStmt) =>
    n.partbound || (n.inhRelations ?? []).length > 0
      ? { kind: 'CreateStmt', why: 'CREATE TABLE … PARTITION OF/INHERITS locks the existing parent table' }
      : ok,
  IndexStmt: (n: IndexStmt, created) =>
    n.concurrent || created.has(n.relation)
      ? ok
      : {
          kind: 'IndexStmt',
          why: 'CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds',
        },
  AlterTableStmt: (n: AlterTableStmt, created) => (created.has(n.relation) ? ok : alterTableRefusal(n)),
  InsertStmt: (n: InsertStmt, created) => (created.has(n.relation) ? ok : backfill('INSERT')),
  UpdateStmt: (n: UpdateStmt, created) => (created.has(n.relation) ? ok : backfill('UPDATE')),
  DeleteStmt: (n: DeleteStmt, created) => (created.has(n.relation) ? ok : backfill('DELETE')),
  ViewStmt: (n: ViewStmt, created) =>
    !n.replace || created.has(n.view)
      ? ok
      : { kind: 'ViewStmt', why: 'CREATE OR REPLACE VIEW changes what the running app reads' },
  CreateFunctionStmt: (n: CreateFunctionStmt) =>
    n.replace
      ? { kind: 'CreateFunctionStmt', why: 'CREATE OR REPLACE changes code the running app calls' }
      : ok,
  CreateSeqStmt: () => ok,
  CreateSchemaStmt: () => ok,
  CreateEnumStmt: () => ok,
  CompositeTypeStmt: () => ok,
  CreateDomainStmt: () => ok,
  CommentStmt: () => ok,
  GrantStmt: () => ok,
  VariableSetStmt: () => ok,
};

/**
 * Rows written to a table the app is using race with the app's own writes, and an UPDATE or DELETE holds its
 * row locks until the plan's transaction commits: the app's writers to those rows wait for the whole plan.
 */
function backfill(command: string): Refusal {
  return {
    kind: `${command[0]}${command.slice(1).toLowerCase()}Stmt`,
    why: `${command} on a table the plan did not create writes rows the running app uses and holds their locks until the plan commits`,
  };
}

/** Runs one statement through the allow-list. */
export function onlineRuleFor(
  s: ParsedStatement,
  created: { has(rv: RangeVar | undefined): boolean },
): Refusal | undefined {
  const check = onlineRules[s.nodeType];
  if (!check)
    return { kind: s.nodeType, why: `${s.nodeType} is not on the list of changes known to be safe online` };
  return check(s.node as never, created as CreatedTables);
}

function alterTableRefusal(n: AlterTableStmt): Refusal | undefined {
  if (n.objtype !== undefined && n.objtype !== 'OBJECT_TABLE')
    return {
      kind: 'AlterTableStmt',
      why: `ALTER ${n.objtype.replace('OBJECT_', '')} is not known to be safe online`,
    };
  for (const c of n.cmds ?? []) {
    const cmd = 'AlterTableCmd' in c ? c.AlterTableCmd : undefined;
    const why = cmd ? alterCommandRefusal(cmd) : 'an ALTER TABLE command the parser did not name';
    if (why) return { kind: `AlterTableStmt:${cmd?.subtype ?? 'unknown'}`, why };
  }
  return ok;
}

function alterCommandRefusal(cmd: AlterTableCmd): string | undefined {
  const def = cmd.def;
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return def && 'ColumnDef' in def ? addColumnRefusal(def.ColumnDef) : 'ADD COLUMN without a column';
    case 'AT_AddConstraint':
      return def && 'Constraint' in def ? addConstraintRefusal(def.Constraint) : 'ADD CONSTRAINT without one';
    case 'AT_ValidateConstraint':
      return ok;
    default:
      return `ALTER TABLE ${(cmd.subtype ?? 'unknown').replace('AT_', '')} on an existing table is not known to be safe online`;
  }
}

const serialTypes = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

function addColumnRefusal(col: ColumnDef): string | undefined {
  const column = col.colname ?? '';
  const type = nameParts(col.typeName?.names).at(-1) ?? '';
  if (serialTypes.has(type))
    return `ADD COLUMN ${column} ${type} fills every row from a sequence (a rewrite)`;
  const constraints = (col.constraints ?? []).flatMap((c) => ('Constraint' in c ? [c.Constraint] : []));
  const defaultExpr = constraints.find((c) => c.contype === 'CONSTR_DEFAULT')?.raw_expr;
  const blocking = constraints.find((c) => !harmlessColumnConstraint(c, defaultExpr !== undefined));
  if (blocking)
    return `ADD COLUMN ${column} with ${(blocking.contype ?? '').replace('CONSTR_', '')} checks or rewrites every existing row`;
  if (defaultExpr && !isNonVolatile(defaultExpr))
    return `ADD COLUMN ${column} with a volatile default rewrites the table`;
  return ok;
}

/** NULL, DEFAULT, and NOT NULL where a default fills the existing rows. */
function harmlessColumnConstraint(c: Constraint, hasDefault: boolean): boolean {
  return (
    c.contype === 'CONSTR_NULL' ||
    c.contype === 'CONSTR_DEFAULT' ||
    (c.contype === 'CONSTR_NOTNULL' && hasDefault)
  );
}

function addConstraintRefusal(c: Constraint): string | undefined {
  const kind = (c.contype ?? '').replace('CONSTR_', '');
  if ((c.contype === 'CONSTR_CHECK' || c.contype === 'CONSTR_FOREIGN') && c.skip_validation) return ok;
  if (c.contype === 'CONSTR_CHECK' || c.contype === 'CONSTR_FOREIGN')
    return `ADD CONSTRAINT ${kind} without NOT VALID scans the table while it blocks writes`;
  return `ADD CONSTRAINT ${kind} builds or checks over every row while it blocks writes`;
}

// Nodes a default can be made of and still be computed once for the ALTER (PostgreSQL 11+ "fast default").
const constantNodes = new Set([
  ...['A_Const', 'TypeCast', 'TypeName', 'String', 'Integer', 'Float', 'Boolean', 'BitString'],
  ...['A_ArrayExpr', 'SQLValueFunction', 'A_Expr'],
]);
// Built-ins that are stable or immutable: one value for the whole statement.
const nonVolatileFunctions = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'lower',
  'upper',
]);

function isNonVolatile(expr: Node): boolean {
  return collectNodes(expr).every(([type, fields]) => {
    if (type === 'FuncCall') {
      const name = nameParts((fields as FuncCall).funcname);
      return name.length === 1 && nonVolatileFunctions.has(name[0] ?? '');
    }
    return constantNodes.has(type);
  });
}
