import { splitStatements, stripComments } from './statements.js';

/** A statement that can lose data, and the migration it is in. */
export interface DestructiveStatement {
  readonly revision: string;
  readonly statement: string;
  readonly kind: 'DropTable' | 'DropColumn' | 'DropSchema' | 'Truncate' | 'DeleteWithoutWhere';
}

const RULES: readonly { kind: DestructiveStatement['kind']; pattern: RegExp }[] = [
  { kind: 'DropTable', pattern: /^drop\s+table\b/i },
  { kind: 'DropSchema', pattern: /^drop\s+schema\b/i },
  // ALTER TABLE t DROP [COLUMN] c, but not DROP CONSTRAINT, which loses no rows.
  {
    kind: 'DropColumn',
    pattern: /^alter\s+table\b.*\bdrop\s+(?!constraint\b|default\b|not\s+null\b|identity\b|expression\b)/i,
  },
  { kind: 'Truncate', pattern: /^truncate\b/i },
  { kind: 'DeleteWithoutWhere', pattern: /^(with\b.*\)\s*)?delete\s+from\b(?!.*\bwhere\b)/i },
];

/** Lists the statements in the given SQL that drop a table, column or schema, truncate, or delete without WHERE. */
export function scanDestructive(revision: string, sql: string): DestructiveStatement[] {
  const found: DestructiveStatement[] = [];
  for (const statement of splitStatements(sql)) {
    const bare = stripComments(statement);
    const rule = RULES.find((r) => r.pattern.test(bare));
    if (rule) found.push({ revision, statement: bare, kind: rule.kind });
  }
  return found;
}
