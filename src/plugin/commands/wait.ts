import { Reason } from '../../api/v1alpha1/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, PluginError } from '../errors.js';
import { readinessOf, type Readiness } from '../readiness.js';
import type { Session } from '../session.js';
import { watchUntil } from '../watch-until.js';

type Settled = Extract<Readiness, { kind: 'ready' } | { kind: 'stalled' }>;

function settled(readiness: Readiness): Settled | undefined {
  return readiness.kind === 'ready' || readiness.kind === 'stalled' ? readiness : undefined;
}

/**
 * Watches until Ready=True for the current generation (exit 0), Stalled=True for it (exit 1: nothing more
 * happens without a human, RestoredFromBackup included), or the timeout (exit 2). Returns the exit code.
 */
export async function waitCommand(
  s: Session,
  name: string,
  options: { for: string; timeoutMs: number },
): Promise<number> {
  if (options.for.toLowerCase() !== 'ready')
    throw new PluginError(`--for ${options.for}: only "ready" is supported`, 2);
  const result = await watchUntil(s.client, name, (object) => settled(readinessOf(object)), {
    timeoutMs: options.timeoutMs,
    onWatching: (rv) => {
      if (s.verbose) s.err(`watching schemamigration/${name} from resourceVersion ${rv}`);
    },
  });
  if (result === undefined) {
    s.err(`error: timed out after ${options.timeoutMs / 1000}s waiting for ${name} to be Ready`);
    return EXIT_TIMEOUT;
  }
  if (result.kind === 'ready') {
    s.out(`schemamigration/${name} condition met`);
    return EXIT_OK;
  }
  const why =
    result.reason === Reason.RestoredFromBackup
      ? 'was restored from a backup and waits for a human'
      : 'is stalled: it cannot go on without a human';
  s.err(`error: ${name} ${why}: ${result.reason}: ${result.message}`);
  return EXIT_FAILED;
}
