/**
 * Runs a benchmark's main to the end or to SIGINT/SIGTERM, always through its cleanup (the clusters, servers and
 * directories it started), and sets a failing exit code with one line naming the benchmark.
 */
export async function runBenchmark(
  name: string,
  main: () => Promise<void>,
  cleanup: () => Promise<void>,
): Promise<void> {
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
