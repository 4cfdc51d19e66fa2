import type { NotAnalysable } from './dataloss.js';
import type { DataLoss } from './measure.js';

const maxBytes = 4096;

/** One line per loss, then per statement not analysable; at most `limit` lines then `and N more`, under 4 KiB. */
export function describeDataLoss(
  losses: readonly DataLoss[],
  notAnalysable: readonly NotAnalysable[],
  limit = 20,
): string {
  const items = [
    ...losses.map((l) => `${l.file}:${l.line}: ${l.detail}`),
    ...notAnalysable.map((n) => `${n.file}:${n.line}: ${n.description} (not analysable: ${n.why})`),
  ];
  const shown = items.slice(0, Math.max(0, limit));
  const rest = items.length - shown.length;
  const tail = rest > 0 ? [`and ${rest.toLocaleString('en-US')} more`] : [];
  // Each line gets an equal share of the budget, so the summary fits a status message whatever the names.
  const lineBudget = Math.floor((maxBytes - 32) / Math.max(1, shown.length)) - 1;
  return [...shown.map((line) => clipBytes(line, lineBudget)), ...tail].join('\n');
}

/** Cuts a line to at most `budget` UTF-8 bytes on a character boundary, marking the cut with '…'. */
function clipBytes(line: string, budget: number): string {
  if (Buffer.byteLength(line) <= budget) return line;
  let out = '';
  let used = 0;
  for (const ch of line) {
    const size = Buffer.byteLength(ch);
    if (used + size > budget - 3) break;
    out += ch;
    used += size;
  }
  return `${out}…`;
}
