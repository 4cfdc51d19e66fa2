import { creationsOf } from './creations.js';
import { findingsOf, type LossKind } from './loss-rules.js';
import type { ParsedStatement } from './parse.js';
import { PlanObjects } from './plan-objects.js';

/** One statement that may destroy data, judged from the parse tree alone. */
export interface LossCandidate {
  readonly file: string;
  readonly line: number;
  readonly kind: LossKind;
  readonly object: { readonly schema?: string; readonly name: string; readonly column?: string };
  readonly cascade: boolean;
  /** e.g. 'DROP TABLE invoices', 'ALTER TABLE a ALTER COLUMN b TYPE …', 'DELETE FROM t without WHERE'. */
  readonly description: string;
}

/** A statement whose effect on data the parse tree cannot show: DO blocks, CALL, EXECUTE, unknown functions. */
export interface NotAnalysable {
  readonly file: string;
  readonly line: number;
  readonly description: string;
  readonly why: string;
}

export interface PlanAnalysisInput {
  readonly file: string;
  readonly statements: readonly ParsedStatement[];
}

export interface LossAnalysisOptions {
  /** Where unqualified names go when comparing with what the plan created; unset, `t` and `public.t` differ. */
  readonly defaultSchema?: string;
}

/** Walks the plan's statements in run order; what the plan itself created earlier is not a loss later. */
export function findLossCandidates(
  plan: readonly PlanAnalysisInput[],
  options: LossAnalysisOptions = {},
): { candidates: LossCandidate[]; notAnalysable: NotAnalysable[] } {
  const created = new PlanObjects(options.defaultSchema);
  const candidates: LossCandidate[] = [];
  const notAnalysable: NotAnalysable[] = [];
  for (const { file, statements } of plan) {
    for (const s of statements) {
      for (const f of findingsOf(s)) {
        const where = { file, line: s.line };
        if (f.kind === 'not-analysable')
          notAnalysable.push({ ...where, description: f.description, why: f.why });
        else if (!createdByPlan(created, f.kind, f.object)) candidates.push({ ...where, ...f });
      }
      for (const c of creationsOf(s.nodeType, s.node)) created.record(c);
    }
  }
  return { candidates, notAnalysable };
}

function createdByPlan(created: PlanObjects, kind: LossKind, object: LossCandidate['object']): boolean {
  switch (kind) {
    case 'drop-column':
    case 'alter-column-type':
      return object.column !== undefined && created.hasColumn(object, object.column);
    case 'drop-schema':
      return created.has('schema', object);
    case 'drop-type':
    case 'drop-domain':
      return created.has('type', object);
    case 'drop-extension':
      return created.has('extension', object);
    default:
      return created.has('relation', object);
  }
}
