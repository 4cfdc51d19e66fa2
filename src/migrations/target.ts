/** Where a plan should take the database. */
export type Target =
  | { readonly kind: 'latest' }
  | { readonly kind: 'base' }
  | { readonly kind: 'revision'; readonly revision: string }
  /** `+N` applies the next N pending migrations, `-N` rolls back the last N applied ones. */
  | { readonly kind: 'relative'; readonly steps: number };

export class TargetSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetSyntaxError';
  }
}

/** Reads a target as people type it: `latest`, `base`, a revision, or (when allowed) `+1` / `-2`. */
export function parseTarget(text: string, options: { allowRelative?: boolean } = {}): Target {
  const value = text.trim();
  if (value === '') throw new TargetSyntaxError('the target is empty: use latest, base or a revision');
  if (value === 'latest' || value === 'head') return { kind: 'latest' };
  if (value === 'base') return { kind: 'base' };
  const relative = /^([+-])(\d+)$/.exec(value);
  if (relative) {
    if (!options.allowRelative)
      throw new TargetSyntaxError(`relative target "${value}" is only accepted by the CLI`);
    const steps = Number(relative[2]);
    if (steps === 0)
      throw new TargetSyntaxError(`relative target "${value}" moves nowhere: use +N or -N with N >= 1`);
    return { kind: 'relative', steps: relative[1] === '-' ? -steps : steps };
  }
  if (!/^\d+_[A-Za-z0-9][\w.-]*$/.test(value)) {
    throw new TargetSyntaxError(
      `"${value}" is not a target: use latest, base, a revision (a file name without .sql)` +
        (options.allowRelative ? ', +N or -N' : ''),
    );
  }
  return { kind: 'revision', revision: value.endsWith('.sql') ? value.slice(0, -4) : value };
}

export function describeTarget(target: Target): string {
  switch (target.kind) {
    case 'latest':
    case 'base':
      return target.kind;
    case 'revision':
      return target.revision;
    case 'relative':
      return target.steps > 0 ? `+${target.steps}` : String(target.steps);
  }
}
