import type {
  AlterObjectSchemaStmt,
  AlterTableStmt,
  CompositeTypeStmt,
  CreateDomainStmt,
  CreateEnumStmt,
  CreateExtensionStmt,
  CreateRangeStmt,
  CreateSchemaStmt,
  CreateSeqStmt,
  CreateStmt,
  CreateTableAsStmt,
  DefineStmt,
  Node,
  RenameStmt,
  SelectStmt,
} from 'libpg-query';
import type { Creation, ObjectCategory } from './plan-objects.js';
import { nameParts, objectNameOf, rangeVarName, unwrapNode, type ObjectName } from './tree.js';

type CreationReader = (node: never, schema: string | undefined) => Creation[];

const relation = (object: ObjectName | undefined, ifAbsent?: boolean): Creation[] =>
  object ? [{ category: 'relation', object, ifAbsent }] : [];
const type = (object: ObjectName | undefined): Creation[] => (object ? [{ category: 'type', object }] : []);
const inSchema = (object: ObjectName | undefined, schema: string | undefined): ObjectName | undefined =>
  object && object.schema === undefined && schema !== undefined ? { schema, name: object.name } : object;

const renamedCategory: Record<string, ObjectCategory> = {
  OBJECT_TABLE: 'relation',
  OBJECT_MATVIEW: 'relation',
  OBJECT_SEQUENCE: 'relation',
  OBJECT_SCHEMA: 'schema',
};

/** What each statement type creates, so that dropping it later in the same plan loses nothing. */
const creationReaders: Record<string, CreationReader> = {
  CreateStmt: (n: CreateStmt, schema) =>
    relation(inSchema(rangeVarName(n.relation), schema), n.if_not_exists),
  CreateTableAsStmt: (n: CreateTableAsStmt) => relation(rangeVarName(n.into?.rel), n.if_not_exists),
  SelectStmt: (n: SelectStmt) => relation(rangeVarName(n.intoClause?.rel)),
  CreateSeqStmt: (n: CreateSeqStmt, schema) =>
    relation(inSchema(rangeVarName(n.sequence), schema), n.if_not_exists),
  CreateEnumStmt: (n: CreateEnumStmt) => type(objectNameOf(nameParts(n.typeName))),
  CompositeTypeStmt: (n: CompositeTypeStmt) => type(rangeVarName(n.typevar)),
  CreateRangeStmt: (n: CreateRangeStmt) => type(objectNameOf(nameParts(n.typeName))),
  CreateDomainStmt: (n: CreateDomainStmt) => type(objectNameOf(nameParts(n.domainname))),
  DefineStmt: (n: DefineStmt) => (n.kind === 'OBJECT_TYPE' ? type(objectNameOf(nameParts(n.defnames))) : []),
  CreateExtensionStmt: (n: CreateExtensionStmt) =>
    n.extname === undefined
      ? []
      : [{ category: 'extension', object: { name: n.extname }, ifAbsent: n.if_not_exists }],
  CreateSchemaStmt: (n: CreateSchemaStmt) => [
    ...(n.schemaname === undefined
      ? []
      : [{ category: 'schema' as const, object: { name: n.schemaname }, ifAbsent: n.if_not_exists }]),
    ...(n.schemaElts ?? []).flatMap((elt) => creationsOfNode(elt, n.schemaname)),
  ],
  AlterTableStmt: (n: AlterTableStmt) => addedColumns(n),
  RenameStmt: (n: RenameStmt) => renamed(n),
  AlterObjectSchemaStmt: (n: AlterObjectSchemaStmt) => {
    const from = rangeVarName(n.relation);
    const of = renamedCategory[n.objectType ?? ''];
    if (!from || of !== 'relation' || n.newschema === undefined) return [];
    return [{ category: 'rename', of, from, to: { schema: n.newschema, name: from.name } }];
  },
};

function addedColumns(n: AlterTableStmt): Creation[] {
  const table = rangeVarName(n.relation);
  if (!table) return [];
  return (n.cmds ?? []).flatMap((c) => {
    const cmd = 'AlterTableCmd' in c ? c.AlterTableCmd : undefined;
    const def =
      cmd?.subtype === 'AT_AddColumn' && cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
    return def?.colname === undefined
      ? []
      : [{ category: 'column' as const, object: table, column: def.colname, ifAbsent: cmd?.missing_ok }];
  });
}

function renamed(n: RenameStmt): Creation[] {
  const newName = n.newname;
  if (newName === undefined) return [];
  const table = rangeVarName(n.relation);
  if (n.renameType === 'OBJECT_COLUMN' && table && n.subname !== undefined) {
    return [{ category: 'rename-column', table, from: n.subname, to: newName }];
  }
  if (n.renameType === 'OBJECT_SCHEMA' && n.subname !== undefined) {
    return [{ category: 'rename', of: 'schema', from: { name: n.subname }, to: { name: newName } }];
  }
  const of = renamedCategory[n.renameType ?? ''];
  if (!table || of === undefined) return [];
  return [{ category: 'rename', of, from: table, to: { ...table, name: newName } }];
}

function creationsOfNode(node: Node, schema: string | undefined): Creation[] {
  const [nodeType, fields] = unwrapNode(node);
  return creationReaders[nodeType]?.(fields as never, schema) ?? [];
}

/** The objects a statement creates, adds or renames. */
export function creationsOf(nodeType: string, node: unknown): Creation[] {
  return creationReaders[nodeType]?.(node as never, undefined) ?? [];
}
