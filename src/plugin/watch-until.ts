import { setTimeout as delay } from 'node:timers/promises';
import type { StoredSchemaMigration } from '../kube/types.js';
import { PluginError } from './errors.js';
import type { PluginClient, RunningWatch, WatchEvent } from './kube.js';

/** Returns a value once the object is where the caller waits for it, undefined to go on waiting. */
export type Decide<T> = (object: StoredSchemaMigration) => T | undefined;

export interface WatchUntilOptions {
  readonly timeoutMs: number;
  /** Told each time a watch starts, with the resourceVersion it starts from (for --verbose). */
  readonly onWatching?: (resourceVersion: string) => void;
}

type Round<T> = { kind: 'decided'; value: T } | { kind: 'timeout' } | { kind: 'ended'; error?: unknown };

/** One watch from a resourceVersion until `decide` answers, the time is up, or the server ends the watch. */
async function watchRound<T>(
  client: PluginClient,
  object: StoredSchemaMigration,
  decide: Decide<T>,
  remainingMs: number,
): Promise<Round<T>> {
  const { name, resourceVersion } = object.metadata;
  let settle: (round: Round<T>) => void = () => undefined;
  const settled = new Promise<Round<T>>((resolve) => (settle = resolve));
  const onEvent = (event: WatchEvent) => {
    if (event.type === 'DELETED')
      settle({ kind: 'ended', error: new PluginError(`${name} was deleted while waiting`) });
    else {
      const value = decide(event.object);
      if (value !== undefined) settle({ kind: 'decided', value });
    }
  };
  let watch: RunningWatch;
  try {
    watch = await client.watch(name, resourceVersion, onEvent);
  } catch (error) {
    return { kind: 'ended', error };
  }
  const timer = setTimeout(() => settle({ kind: 'timeout' }), remainingMs);
  watch.done.then(
    () => settle({ kind: 'ended' }),
    (error: unknown) => settle({ kind: 'ended', error }),
  );
  const round = await settled;
  clearTimeout(timer);
  watch.stop();
  return round;
}

/**
 * Reads the object and watches it until `decide` returns a value (returned) or the timeout passes (undefined).
 * A watch the server or the network ends is started again from a fresh read, so nothing is missed.
 */
export async function watchUntil<T>(
  client: PluginClient,
  name: string,
  decide: Decide<T>,
  options: WatchUntilOptions,
): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const object = await client.get(name);
    const now = decide(object);
    if (now !== undefined) return now;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return undefined;
    options.onWatching?.(object.metadata.resourceVersion);
    const round = await watchRound(client, object, decide, remaining);
    if (round.kind === 'decided') return round.value;
    if (round.kind === 'timeout') return undefined;
    if (round.error instanceof PluginError) throw round.error;
    // A watch that failed (not one the server closed in the normal way) is retried after a short pause.
    if (round.error !== undefined) await delay(Math.min(500, Math.max(0, deadline - Date.now())));
  }
}
