import type { ObjectName } from './tree.js';

export type ObjectCategory = 'relation' | 'type' | 'schema' | 'extension';

/** An object a statement creates (or a column it adds), or the new name of one it renames. */
export type Creation =
  | { readonly category: ObjectCategory; readonly object: ObjectName; readonly ifAbsent?: boolean }
  | {
      readonly category: 'column';
      readonly object: ObjectName;
      readonly column: string;
      readonly ifAbsent?: boolean;
    }
  | {
      readonly category: 'rename';
      readonly of: ObjectCategory;
      readonly from: ObjectName;
      readonly to: ObjectName;
    }
  | {
      readonly category: 'rename-column';
      readonly table: ObjectName;
      readonly from: string;
      readonly to: string;
    };

/** Where an object known by a name at some point of the plan comes from. */
export type Origin =
  /** The plan created it. */
  | { readonly kind: 'created' }
  /** The plan created it unless it was already there (CREATE … IF NOT EXISTS). */
  | { readonly kind: 'ifAbsent' }
  /** It was in the database before the plan, under another name the plan renamed. */
  | { readonly kind: 'renamed'; readonly from: ObjectName & { readonly column?: string } };

/**
 * What the plan has created or renamed so far, in run order. Names compare as written: an unqualified
 * name matches only an unqualified one, unless a default schema says where unqualified names go.
 */
export class PlanObjects {
  private readonly origins = new Map<string, Origin>();
  private readonly defaultSchema: string | undefined;

  constructor(defaultSchema?: string) {
    this.defaultSchema = defaultSchema;
  }

  record(c: Creation): void {
    switch (c.category) {
      case 'column':
        return this.create(this.columnKey(c.object, c.column), c.ifAbsent);
      case 'rename':
        return this.move(this.key(c.of, c.from), this.key(c.of, c.to), c.from);
      case 'rename-column':
        return this.move(this.columnKey(c.table, c.from), this.columnKey(c.table, c.to), {
          ...c.table,
          column: c.from,
        });
      default:
        return this.create(this.key(c.category, c.object), c.ifAbsent);
    }
  }

  /** Undefined: the object was in the database under this name before the plan. */
  originOf(category: ObjectCategory, object: ObjectName): Origin | undefined {
    const own = this.origins.get(this.key(category, object));
    if (own) return own;
    const schema = object.schema ?? this.defaultSchema;
    if (category === 'schema' || schema === undefined) return undefined;
    const container = this.origins.get(this.key('schema', { name: schema }));
    return container?.kind === 'renamed' ? undefined : container;
  }

  originOfColumn(table: ObjectName, column: string): Origin | undefined {
    const tableOrigin = this.originOf('relation', table);
    if (tableOrigin && tableOrigin.kind !== 'renamed') return tableOrigin;
    const own = this.origins.get(this.columnKey(table, column));
    if (own && own.kind !== 'renamed') return own;
    if (!tableOrigin && !own) return undefined;
    const dbTable = tableOrigin?.kind === 'renamed' ? tableOrigin.from : table;
    const dbColumn = own?.kind === 'renamed' ? (own.from.column ?? column) : column;
    return { kind: 'renamed', from: { ...nameOnly(dbTable), column: dbColumn } };
  }

  // A definite creation outranks IF NOT EXISTS; IF NOT EXISTS changes nothing the plan already knows.
  private create(key: string, ifAbsent: boolean | undefined): void {
    if (ifAbsent !== true) this.origins.set(key, { kind: 'created' });
    else if (!this.origins.has(key)) this.origins.set(key, { kind: 'ifAbsent' });
  }

  private move(fromKey: string, toKey: string, from: ObjectName & { column?: string }): void {
    this.origins.set(toKey, this.origins.get(fromKey) ?? { kind: 'renamed', from });
    this.origins.delete(fromKey);
  }

  private key(category: ObjectCategory, object: ObjectName): string {
    const global = category === 'schema' || category === 'extension';
    return JSON.stringify([
      category,
      global ? null : (object.schema ?? this.defaultSchema ?? null),
      object.name,
    ]);
  }

  private columnKey(table: ObjectName, column: string): string {
    return JSON.stringify(['column', table.schema ?? this.defaultSchema ?? null, table.name, column]);
  }
}

function nameOnly(o: ObjectName): ObjectName {
  return o.schema === undefined ? { name: o.name } : { schema: o.schema, name: o.name };
}
