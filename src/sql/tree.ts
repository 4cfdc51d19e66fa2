import type { DefElem, Node, RangeVar } from 'libpg-query';

/** A database object as the parse tree names it; no schema means the search_path decides. */
export interface ObjectName {
  readonly schema?: string;
  readonly name: string;
}

/** The parse tree wraps each node as `{ TypeName: fields }`. */
export function unwrapNode(node: Node | undefined): [string, unknown] {
  const entry = node ? Object.entries(node)[0] : undefined;
  if (!entry) throw new Error('the parser returned an empty node');
  return entry;
}

/** The strings of a name list such as `[{ String: { sval: 's' } }, { String: { sval: 't' } }]`. */
export function nameParts(nodes: readonly Node[] | undefined): string[] {
  return (nodes ?? []).flatMap((n) => ('String' in n && n.String.sval !== undefined ? [n.String.sval] : []));
}

/** `s.t` or `t` (a three-part `db.s.t` keeps its last two parts). */
export function objectNameOf(parts: readonly string[]): ObjectName | undefined {
  const name = parts.at(-1);
  if (name === undefined) return undefined;
  const schema = parts.length > 1 ? parts.at(-2) : undefined;
  return schema === undefined ? { name } : { schema, name };
}

export function rangeVarName(rv: RangeVar | undefined): ObjectName | undefined {
  if (rv?.relname === undefined) return undefined;
  return rv.schemaname === undefined ? { name: rv.relname } : { schema: rv.schemaname, name: rv.relname };
}

/** A DROP's object: a name list, a bare name (schema, extension) or a type name. */
export function droppedObjectName(node: Node): ObjectName | undefined {
  if ('List' in node) return objectNameOf(nameParts(node.List.items));
  if ('String' in node) return node.String.sval === undefined ? undefined : { name: node.String.sval };
  if ('TypeName' in node) return objectNameOf(nameParts(node.TypeName.names));
  return undefined;
}

/** Every node in a subtree, in document order, as [type, fields]; the tree wraps each node as `{ Type: fields }`. */
export function collectNodes(value: unknown, found: [string, Record<string, unknown>][] = []): typeof found {
  if (Array.isArray(value)) {
    for (const item of value) collectNodes(item, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (isNodeType(key) && typeof child === 'object' && child !== null && !Array.isArray(child)) {
        found.push([key, child as Record<string, unknown>]);
      }
      collectNodes(child, found);
    }
  }
  return found;
}

// Node types are PascalCase (SelectStmt, FuncCall); fields are camelCase or snake_case.
function isNodeType(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 65 && first <= 90;
}

/** An option's value as PostgreSQL's defGetBoolean reads it; undefined when the option is absent. */
export function optionBoolean(options: readonly Node[] | undefined, name: string): boolean | undefined {
  const def = findOption(options, name);
  return def === undefined ? undefined : defElemBoolean(def);
}

export function findOption(options: readonly Node[] | undefined, name: string): DefElem | undefined {
  return (options ?? []).flatMap((n) => ('DefElem' in n ? [n.DefElem] : [])).find((d) => d.defname === name);
}

function defElemBoolean(def: DefElem): boolean {
  const arg = def.arg;
  if (arg === undefined) return true;
  if ('Boolean' in arg) return arg.Boolean.boolval === true;
  if ('Integer' in arg) return (arg.Integer.ival ?? 0) !== 0;
  if ('String' in arg)
    return !['false', 'off', '0', 'no', 'n', 'f'].includes((arg.String.sval ?? '').toLowerCase());
  return true;
}

export function hasOption(options: readonly Node[] | undefined, name: string): boolean {
  return optionBoolean(options, name) === true;
}
