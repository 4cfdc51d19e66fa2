import type { Node } from 'libpg-query';
import { creationsOf } from './creations.js';
import { functionDisplayName, isPureFunctionCall } from './functions.js';
import type { ParsedStatement } from './parse.js';
import { collectNodes, droppedObjectName, rangeVarName, type ObjectName } from './tree.js';

/**
 * The relations a plan changes, read from the parse tree: `relations` are those it writes, alters or drops (they
 * may exist before the plan), `created` those it creates. When a statement can change what the tree does not
 * show (a DO block, a function call, a type, a schema), `undeterminable` says which and where.
 */
export type Touched =
  | { readonly relations: readonly ObjectName[]; readonly created: readonly ObjectName[] }
  | { readonly undeterminable: string };

type Reader = (node: never) => ObjectName[] | undefined;

const one = (name: ObjectName | undefined): ObjectName[] | undefined => (name ? [name] : undefined);
const relationOf = (node: { relation?: Parameters<typeof rangeVarName>[0] }) =>
  one(rangeVarName(node.relation));

/** Drops of these kinds name a relation: the relation is changed (it goes). */
const RELATION_DROPS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
  'OBJECT_FOREIGN_TABLE',
]);

/** Renames and comments of these kinds change a relation (or one of its columns or constraints). */
const RELATION_OBJECTS = new Set([
  ...RELATION_DROPS,
  'OBJECT_COLUMN',
  'OBJECT_TABCONSTRAINT',
  'OBJECT_TRIGGER',
  'OBJECT_RULE',
  'OBJECT_POLICY',
]);

const readers: Record<string, Reader> = {
  AlterTableStmt: relationOf,
  InsertStmt: relationOf,
  UpdateStmt: relationOf,
  DeleteStmt: relationOf,
  IndexStmt: relationOf,
  CreateTrigStmt: relationOf,
  RuleStmt: relationOf,
  CreatePolicyStmt: (node: { table?: Parameters<typeof rangeVarName>[0] }) => one(rangeVarName(node.table)),
  TruncateStmt: (node: { relations?: Node[] }) =>
    (node.relations ?? []).flatMap((n) => ('RangeVar' in n ? (one(rangeVarName(n.RangeVar)) ?? []) : [])),
  DropStmt: (node: { removeType?: string; objects?: Node[] }) =>
    RELATION_DROPS.has(node.removeType ?? '')
      ? (node.objects ?? []).flatMap((o) => one(droppedObjectName(o)) ?? [])
      : undefined,
  RenameStmt: (node: { renameType?: string; relation?: Parameters<typeof rangeVarName>[0] }) =>
    RELATION_OBJECTS.has(node.renameType ?? '') ? relationOf(node) : undefined,
  AlterSeqStmt: (node: { sequence?: Parameters<typeof rangeVarName>[0] }) => one(rangeVarName(node.sequence)),
  // Creating, commenting and granting change no row; what they create is counted as created below.
  CreateStmt: () => [],
  CreateSeqStmt: () => [],
  ViewStmt: () => [],
  CreateTableAsStmt: () => [],
  CommentStmt: () => [],
  SelectStmt: () => [],
};

/** The first call of a function that may do more than compute a value, if any. */
function impureCall(node: unknown): string | undefined {
  for (const [type, fields] of collectNodes(node))
    if (type === 'FuncCall' && !isPureFunctionCall(fields)) return functionDisplayName(fields);
  return undefined;
}

const sameName = (a: ObjectName, b: ObjectName) => a.name === b.name && a.schema === b.schema;

/** What a plan's statements touch, in the order they run (a relation the plan created first is not counted). */
export function touchedRelations(statements: readonly ParsedStatement[]): Touched {
  const relations: ObjectName[] = [];
  const created: ObjectName[] = [];
  for (const statement of statements) {
    const where = `${statement.file}:${statement.line}`;
    const read = readers[statement.nodeType];
    if (!read) return { undeterminable: `${where}: a ${statement.nodeType.replace(/Stmt$/, '')} statement` };
    const call = impureCall(statement.node);
    if (call !== undefined) return { undeterminable: `${where}: a call of ${call}()` };
    const names = read(statement.node as never);
    if (names === undefined)
      return {
        undeterminable: `${where}: a ${statement.nodeType.replace(/Stmt$/, '')} of another kind of object`,
      };
    for (const name of names)
      if (!created.some((c) => sameName(c, name)) && !relations.some((r) => sameName(r, name)))
        relations.push(name);
    for (const creation of creationsOf(statement.nodeType, statement.node)) {
      // A renamed relation is known by its new name afterwards: a name that did not exist before the plan.
      const name =
        creation.category === 'relation'
          ? creation.object
          : creation.category === 'rename' && creation.of === 'relation'
            ? creation.to
            : undefined;
      if (name && !created.some((c) => sameName(c, name))) created.push(name);
    }
  }
  return { relations, created };
}
