// Stand-in for src/sql until PostgreSQL's parser lands there: the same interface over the old text readers.
import type pg from 'pg';
import { scanDestructive } from './destructive.js';
import { splitStatements, stripComments } from './statements.js';

export class SqlParseError extends Error {
  readonly file = '';
  readonly line = 1;
  readonly column = 1;
  readonly pgMessage = '';
}

export interface ParsedStatement {
  readonly file: string;
  readonly index: number;
  readonly text: string;
  readonly line: number;
  readonly nodeType: string;
  readonly node: unknown;
}

export async function loadSqlParser(): Promise<void> {}

export function parseStatements(sql: string, file: string): ParsedStatement[] {
  let from = 0;
  return splitStatements(sql).map((text, index) => {
    const at = sql.indexOf(text, from);
    from = at + text.length;
    const line = sql.slice(0, Math.max(at, 0)).split('\n').length;
    return { file, index, text, line, nodeType: 'Unknown', node: undefined };
  });
}

export type TransactionNeed = 'any' | 'outside' | 'commitAfter' | 'control';

export function transactionNeed(s: ParsedStatement): TransactionNeed {
  const bare = stripComments(s.text);
  if (/^(begin|commit|rollback|savepoint|release|start\s+transaction|end)\b/i.test(bare)) return 'control';
  if (/\bconcurrently\b|^vacuum\b/i.test(bare)) return 'outside';
  if (/^alter\s+type\b.*\badd\s+value\b/i.test(bare)) return 'commitAfter';
  return 'any';
}

export interface LossCandidate {
  readonly file: string;
  readonly line: number;
  readonly kind: string;
  readonly object: { readonly schema?: string; readonly name: string; readonly column?: string };
  readonly cascade: boolean;
  readonly description: string;
}

export interface NotAnalysable {
  readonly file: string;
  readonly line: number;
  readonly description: string;
  readonly why: string;
}

export function findLossCandidates(
  plan: readonly { file: string; statements: readonly ParsedStatement[] }[],
): { candidates: LossCandidate[]; notAnalysable: NotAnalysable[] } {
  const candidates = plan.flatMap(({ file, statements }) =>
    statements.flatMap((s) =>
      scanDestructive(file, s.text).map((d) => ({
        file,
        line: s.line,
        kind: d.kind,
        object: { name: '' },
        cascade: false,
        description: d.statement,
      })),
    ),
  );
  return { candidates, notAnalysable: [] };
}

export interface DataLoss extends LossCandidate {
  readonly rows: number | undefined;
  readonly detail: string;
}

export function measureDataLoss(
  _client: pg.ClientBase,
  candidates: readonly LossCandidate[],
): Promise<DataLoss[]> {
  return Promise.resolve(candidates.map((c) => ({ ...c, rows: undefined, detail: c.description })));
}

export function describeDataLoss(
  losses: readonly DataLoss[],
  notAnalysable: readonly NotAnalysable[],
  limit = 20,
): string {
  const all = [
    ...losses.map((l) => `${l.file}:${l.line} ${l.detail}`),
    ...notAnalysable.map((n) => `${n.file}:${n.line} ${n.description} (not analysable: ${n.why})`),
  ];
  const more = all.length > limit ? `; and ${all.length - limit} more` : '';
  return all.slice(0, limit).join('; ') + more;
}
