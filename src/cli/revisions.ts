import { parseTarget, TargetSyntaxError, type Target } from '../migrations/target.js';
import { MigrationErrorCode } from '../migrations/errors.js';
import { CommandError } from './errors.js';

/** A target as typed on the command line: a keyword or relative step, or a revision still to be resolved. */
export type TargetArg = Target | { readonly kind: 'prefix'; readonly prefix: string };

const REVISION_CHARS = /^[\w.-]+$/;

/**
 * Reads `--to`: `latest`, `base`, `+N`, `-N`, or a revision or the start of one (resolved later against the
 * migration files and the database). Throws TargetSyntaxError for what cannot name a revision at all.
 */
export function parseTargetArg(text: string): TargetArg {
  const value = text.trim();
  if (/^(latest|head|base|[+-]\d+)$/.test(value) || value === '')
    return parseTarget(value, { allowRelative: true });
  if (!REVISION_CHARS.test(value)) {
    throw new TargetSyntaxError(
      `"${value}" is not a target: use latest, base, a revision (a file name without .sql, or its start), +N or -N`,
    );
  }
  return { kind: 'prefix', prefix: value.replace(/\.sql$/, '') };
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** How far a typed name is from a revision: the whole name, or the part after its number. */
function distanceTo(typed: string, revision: string): number {
  const name = revision.replace(/^\d+_/, '');
  return Math.min(editDistance(typed, revision), editDistance(typed, name));
}

/** The known revisions closest to what was typed, nearest first. */
export function closestRevisions(typed: string, known: readonly string[], limit = 3): string[] {
  return known
    .map((revision) => ({ revision, distance: distanceTo(typed, revision) }))
    .sort((a, b) => a.distance - b.distance || a.revision.localeCompare(b.revision))
    .slice(0, limit)
    .map((c) => c.revision);
}

/**
 * The one revision `typed` names among `known`: itself, the one whose number it is (`2` for `2_add-note`), or
 * the only one it starts. Ambiguous: the candidates are listed; unknown: the closest names are suggested.
 */
export function resolveRevision(typed: string, known: readonly string[]): string {
  const prefix = typed.replace(/\.sql$/, '');
  const unique = [...new Set(known)];
  if (unique.includes(prefix)) return prefix;
  const candidates = unique.filter((r) => r.startsWith(prefix));
  const byNumber = candidates.filter((r) => r.startsWith(`${prefix}_`));
  if (candidates.length === 1) return candidates[0]!;
  if (byNumber.length === 1) return byNumber[0]!;
  if (candidates.length > 1) {
    throw new CommandError(
      'AmbiguousRevision',
      `"${prefix}" matches ${candidates.length} migrations: ${candidates.slice(0, 10).join(', ')}` +
        `${candidates.length > 10 ? ', …' : ''}; give more of the name`,
      { candidates },
    );
  }
  const suggestions = closestRevisions(prefix, unique);
  const hint = suggestions.length > 0 ? `; did you mean ${suggestions.join(', ')}?` : ' (there are none)';
  throw new CommandError(
    MigrationErrorCode.UnknownTarget,
    `no migration "${prefix}" in the migration files or the database${hint}`,
    { suggestions },
  );
}

/** The target with its revision resolved; keywords and relative steps pass through. */
export function resolveTarget(target: TargetArg, known: readonly string[]): Target {
  if (target.kind !== 'prefix') return target;
  return { kind: 'revision', revision: resolveRevision(target.prefix, known) };
}
