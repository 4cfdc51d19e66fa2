import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startHarness, type Harness } from '../controller/harness.js';
import { runWithKills, stopAll } from './crash.js';
import { groupKillPoints, KILL_POINTS } from './kill-points.js';

// Each seed splits every kill point into RUNS runs; SCHEMAOPS_FAULT_SEEDS=1,2,3 replays or widens the search.
const SEEDS = (process.env.SCHEMAOPS_FAULT_SEEDS ?? '20261121,7')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter(Number.isInteger);
const RUNS = 3;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ podReadyDelayMs: 700 });
}, 60_000);
afterAll(async () => {
  await stopAll();
  await h.stop();
});

const cases = SEEDS.flatMap((seed) =>
  groupKillPoints(KILL_POINTS, seed, RUNS).map((points, i) => ({
    title: `seed ${seed}, run ${i + 1}/${RUNS}: ${points.map((p) => p.name).join(' | ')}`,
    points,
  })),
);

describe('SIGKILL of the operator process at step boundaries and mid-step, then a fresh process', () => {
  it.each(cases)(
    '$title',
    async ({ points }) => {
      const report = await runWithKills(h, points);
      expect(report.kills.filter((k) => k.includes(': the database is at'))).toEqual([]);
      expect(report.violations).toEqual([]);
    },
    120_000,
  );
});
