import { creationsOf } from './creations.js';
import { findingsOf, type LossKind } from './loss-rules.js';
import type { ParsedStatement } from './parse.js';
import { PlanObjects, type Origin } from './plan-objects.js';

/** One statement that may destroy data, judged from the parse tree alone. */
export interface LossCandidate {
  readonly file: string;
  readonly line: number;
  readonly kind: LossKind;
  readonly object: { readonly schema?: string; readonly name: string; readonly column?: string };
  readonly cascade: boolean;
  /** e.g. 'DROP TABLE invoices', 'ALTER TABLE a ALTER COLUMN b TYPE …', 'DELETE FROM t without WHERE'. */
  readonly description: string;
  /** The plan created the object with IF NOT EXISTS: a loss only if it is in the database already. */
  readonly createdByPlanIfAbsent?: boolean;
  /** The object's name in the database before the plan, when an earlier statement of the plan renamed it. */
  readonly databaseObject?: { readonly schema?: string; readonly name: string; readonly column?: string };
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
        else pushUnlessCreated(candidates, { ...where, ...f }, originOf(created, f.kind, f.object));
      }
      for (const c of creationsOf(s.nodeType, s.node)) created.record(c);
    }
  }
  return { candidates, notAnalysable };
}

function pushUnlessCreated(candidates: LossCandidate[], c: LossCandidate, origin: Origin | undefined): void {
  if (origin?.kind === 'created') return;
  if (origin?.kind === 'ifAbsent') candidates.push({ ...c, createdByPlanIfAbsent: true });
  else if (origin?.kind === 'renamed') candidates.push({ ...c, databaseObject: origin.from });
  else candidates.push(c);
}

function originOf(created: PlanObjects, kind: LossKind, object: LossCandidate['object']): Origin | undefined {
  switch (kind) {
    case 'drop-column':
    case 'alter-column-type':
      return object.column === undefined ? undefined : created.originOfColumn(object, object.column);
    case 'drop-schema':
      return created.originOf('schema', object);
    case 'drop-type':
    case 'drop-domain':
      return created.originOf('type', object);
    case 'drop-extension':
      return created.originOf('extension', object);
    default:
      return created.originOf('relation', object);
  }
}
