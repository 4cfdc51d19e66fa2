import type { ObjectName } from './tree.js';

export type ObjectCategory = 'relation' | 'type' | 'schema' | 'extension';

/** An object a statement creates (or a column it adds), or the new name of one it renames. */
export type Creation =
  | { readonly category: ObjectCategory; readonly object: ObjectName }
  | { readonly category: 'column'; readonly object: ObjectName; readonly column: string }
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

/**
 * What the plan has created so far, in run order. Names compare as written: an unqualified name matches
 * only an unqualified one, unless a default schema says where unqualified names go.
 */
export class PlanObjects {
  private readonly keys = new Set<string>();
  private readonly defaultSchema: string | undefined;

  constructor(defaultSchema?: string) {
    this.defaultSchema = defaultSchema;
  }

  record(c: Creation): void {
    switch (c.category) {
      case 'column':
        this.keys.add(this.columnKey(c.object, c.column));
        return;
      case 'rename':
        if (this.has(c.of, c.from)) this.keys.add(this.key(c.of, c.to));
        return;
      case 'rename-column':
        if (this.hasColumn(c.table, c.from)) this.keys.add(this.columnKey(c.table, c.to));
        return;
      default:
        this.keys.add(this.key(c.category, c.object));
    }
  }

  /** Created by the plan, or inside a schema the plan created. */
  has(category: ObjectCategory, object: ObjectName): boolean {
    if (this.keys.has(this.key(category, object))) return true;
    const schema = object.schema ?? this.defaultSchema;
    return (
      category !== 'schema' && schema !== undefined && this.keys.has(this.key('schema', { name: schema }))
    );
  }

  hasColumn(table: ObjectName, column: string): boolean {
    return this.has('relation', table) || this.keys.has(this.columnKey(table, column));
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
