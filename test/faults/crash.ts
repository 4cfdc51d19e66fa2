import type { Harness } from '../controller/harness.js';
import { databaseWhole, prepareRun, startMigration, violations, type FaultRun } from './invariants.js';
import type { AfterKill, KillContext, KillPoint } from './kill-points.js';
import { observeRun, type RunObserver } from './observe.js';
import { startOperatorProcess, type OperatorProcess } from '../support/operator-process.js';

/** Operator processes a test started; whatever is left is killed after it. */
export const processes: OperatorProcess[] = [];

export function operator(h: Harness): OperatorProcess {
  const p = startOperatorProcess(h.operatorKubeconfigPath);
  processes.push(p);
  return p;
}

/** SIGTERM for the living (the lease is released for the next test), SIGKILL if that takes too long. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    processes.splice(0).map(async (p) => {
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
      await p.terminate();
      clearTimeout(timer);
    }),
  );
}

export interface CrashReport {
  /** For each kill: where, and what was wrong with the database right after it. */
  kills: string[];
  violations: string[];
}

/**
 * One run from START to TARGET with the operator SIGKILLed at each of `points` in turn, a fresh process started
 * after each kill; then the invariants.
 */
export async function runWithKills(h: Harness, points: readonly KillPoint[]): Promise<CrashReport> {
  const run: FaultRun = await prepareRun(h);
  const observer: RunObserver = await observeRun(h.kc, run.fixture.namespace);
  const k: KillContext = { h, run, observer };
  const kills: string[] = [];
  const afterKill = new Map<KillPoint, AfterKill>();
  try {
    for (const point of points) {
      const undo = await point.prepare?.(k);
      if (undo) afterKill.set(point, undo);
    }
    let current = operator(h);
    await startMigration(h, run);
    for (const point of points) {
      await point.reached(k);
      await current.kill();
      const whole = await databaseWhole(run.fixture.databaseUrl);
      kills.push(`${point.name}${whole ? `: ${whole}` : ''}`);
      current = operator(h);
      await afterKill.get(point)?.();
      afterKill.delete(point);
    }
    const found = await violations(run, observer);
    return { kills, violations: found };
  } finally {
    for (const undo of afterKill.values()) await undo().catch(() => undefined);
    observer.stop();
    h.faults.clear();
    await stopAll();
  }
}
