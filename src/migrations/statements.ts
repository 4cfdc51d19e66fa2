/**
 * Splits SQL text into statements at top-level semicolons, honouring quoted strings,
 * quoted identifiers, dollar quoting and comments. Comments stay with their statement;
 * statements with nothing but comments are dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const skipped = skipQuotedOrComment(sql, i);
    if (skipped > i) {
      i = skipped;
    } else if (sql[i] === ';') {
      statements.push(sql.slice(start, i));
      start = ++i;
    } else {
      i++;
    }
  }
  statements.push(sql.slice(start));
  return statements.map((s) => s.trim()).filter((s) => stripComments(s).trim() !== '');
}

/** The statement without comments, white space folded: what scans should look at. */
export function stripComments(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const end = skipQuotedOrComment(sql, i);
    if (end > i) {
      const isComment = sql.startsWith('--', i) || sql.startsWith('/*', i);
      out += isComment ? ' ' : sql.slice(i, end);
      i = end;
    } else {
      out += sql[i];
      i++;
    }
  }
  return out.replace(/\s+/g, ' ').trim();
}

/** If a string, identifier, dollar-quoted body or comment starts at i, the index after it; else i. */
function skipQuotedOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"') return skipQuoted(sql, i, c);
  if (sql.startsWith('--', i)) {
    const eol = sql.indexOf('\n', i);
    return eol < 0 ? sql.length : eol + 1;
  }
  if (sql.startsWith('/*', i)) return skipBlockComment(sql, i);
  if (c === '$') {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))?.[0];
    // A `$1` parameter or a `$` inside an identifier is not a dollar quote.
    if (tag && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const close = sql.indexOf(tag, i + tag.length);
      return close < 0 ? sql.length : close + tag.length;
    }
  }
  return i;
}

function skipQuoted(sql: string, i: number, quote: string): number {
  let j = i + 1;
  while (j < sql.length) {
    if (sql[j] === quote) {
      if (sql[j + 1] === quote)
        j += 2; // doubled quote is an escaped quote
      else return j + 1;
    } else {
      j++;
    }
  }
  return sql.length;
}

function skipBlockComment(sql: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < sql.length) {
    if (sql.startsWith('/*', j)) {
      depth++;
      j += 2;
    } else if (sql.startsWith('*/', j)) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return sql.length;
}
