import type { ObjectName } from './tree.js';

/** An identifier quoted for SQL text, whatever it contains. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"s"."t"` or `"t"`: text that to_regclass and to_regtype resolve like the statement would. */
export function quoteName(object: ObjectName): string {
  return object.schema === undefined
    ? quoteIdent(object.name)
    : `${quoteIdent(object.schema)}.${quoteIdent(object.name)}`;
}

/** A name for messages: bare when PostgreSQL would read it back unchanged, quoted otherwise. */
export function displayIdent(name: string): string {
  return isPlainIdent(name) ? name : quoteIdent(name);
}

export function displayName(object: ObjectName): string {
  const name = displayIdent(object.name);
  return object.schema === undefined ? name : `${displayIdent(object.schema)}.${name}`;
}

// Lower-case letters, digits, _ and $, not starting with a digit or $: what an unquoted identifier folds to.
function isPlainIdent(name: string): boolean {
  if (name.length === 0) return false;
  for (const [i, ch] of [...name].entries()) {
    const lower = ch >= 'a' && ch <= 'z';
    const digitOrDollar = (ch >= '0' && ch <= '9') || ch === '$';
    if (!(lower || ch === '_' || (i > 0 && digitOrDollar))) return false;
  }
  return true;
}
