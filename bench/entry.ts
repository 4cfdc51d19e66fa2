// Everything a benchmark started is stopped again, last first, once, also on error and on SIGINT/SIGTERM.

const cleanups: { what: string; run: () => Promise<void> | void }[] = [];
let cleaning: Promise<void> | undefined;

/** Registers how to stop something the benchmark started. */
export function onCleanup(what: string, run: () => Promise<void> | void): void {
  cleanups.push({ what, run });
}

/** Stops everything registered, newest first; the same promise for every caller. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (let next = cleanups.pop(); next; next = cleanups.pop()) {
      try {
        await next.run();
      } catch (err) {
        console.error(`stopping ${next.what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  return cleaning;
}

/**
 * Runs a benchmark's main to the end or to SIGINT/SIGTERM, always through its cleanup (the clusters, servers and
 * directories it started), and sets a failing exit code with one line naming the benchmark.
 */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<void> {
  let interrupted: NodeJS.Signals | undefined;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    void cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    await main();
  } catch (err) {
    if (interrupted) console.error(`${name}: stopped by ${interrupted}`);
    else console.error(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
}
