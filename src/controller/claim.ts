import { Reason } from '../api/v1alpha1/conditions.js';
import type { SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import type { Claim } from '../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import type { ReconcileContext } from './context.js';
import type { Refusal } from './inputs.js';
import { writeStatus } from './run.js';

/** Which database and migrations table a SchemaMigration acts on, without credentials. */
export function claimOf(databaseUrl: string, spec: SchemaMigrationSpec): Omit<Claim, 'claimedAt'> {
  const url = new URL(databaseUrl.trim());
  const host = (url.hostname || url.searchParams.get('host') || 'localhost').toLowerCase();
  const port = url.port || url.searchParams.get('port') || '5432';
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username);
  const { migrationsSchema, migrationsTable } = spec.database;
  return { database: `${host}:${port}/${name}`, migrationsTable: `${migrationsSchema}.${migrationsTable}` };
}

const sameTarget = (a: Omit<Claim, 'claimedAt'>, b: Omit<Claim, 'claimedAt'>) =>
  a.database === b.database && a.migrationsTable === b.migrationsTable;

/** Whether `a` claimed before `b`: by claim time (ms), then by uid so that two of the same ms still agree. */
function claimedBefore(a: { claim: Claim; uid: string }, b: { claim: Claim; uid: string }): boolean {
  if (a.claim.claimedAt !== b.claim.claimedAt) return a.claim.claimedAt < b.claim.claimedAt;
  return a.uid < b.uid;
}

/**
 * One owner per database: records this object's claim in status, then refuses when another SchemaMigration
 * claimed the same database and migrations table first. Claim first, look second: of two that race, at least
 * the later one sees the other, and both order the claims the same way.
 */
export async function checkClaim(
  target: { ctx: ReconcileContext; object: StoredSchemaMigration },
  databaseUrl: string,
  spec: SchemaMigrationSpec,
): Promise<Refusal | undefined> {
  const wanted = claimOf(databaseUrl, spec);
  const held = target.object.status?.claim;
  if (!held || !sameTarget(held, wanted)) {
    const claim = { ...wanted, claimedAt: target.ctx.now().toISOString() };
    await writeStatus(target, () => ({ claim }));
  }
  const mine = {
    claim: target.object.status?.claim ?? { ...wanted, claimedAt: '' },
    uid: target.object.metadata.uid,
  };
  const first = (await target.ctx.kube.listSchemaMigrations())
    .filter((o) => o.metadata.uid !== mine.uid && o.status?.claim && sameTarget(o.status.claim, wanted))
    .map((o) => ({ claim: o.status!.claim!, uid: o.metadata.uid, object: o }))
    .filter((other) => claimedBefore(other, mine))
    .sort((a, b) => (claimedBefore(a, b) ? -1 : 1))[0];
  if (!first) return undefined;
  const { namespace, name } = first.object.metadata;
  return {
    reason: Reason.DatabaseClaimed,
    message: `SchemaMigration ${namespace}/${name} already owns database ${wanted.database} (migrations table ${wanted.migrationsTable}): one SchemaMigration per database; nothing was touched`,
  };
}
