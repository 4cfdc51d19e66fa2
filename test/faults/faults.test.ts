import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startHarness, type Harness } from '../controller/harness.js';
import { stopAll } from './crash.js';
import {
  leaderFailover,
  lockHeld,
  postgresRestart,
  sigtermMidMigration,
  statusWritesRefused,
  watchesCut,
  type ScenarioReport,
} from './scenarios.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ podReadyDelayMs: 700 });
}, 60_000);
afterAll(async () => {
  await stopAll();
  await h.stop();
});

const scenarios: [string, (h: Harness) => Promise<ScenarioReport>][] = [
  ['PostgreSQL restarted mid-migration', postgresRestart],
  ['the migration lock held by another session, then released', lockHeld],
  ['watches cut and resource versions expired (410 Gone) mid-run', watchesCut],
  ['409 and 500 answers to status writes', statusWritesRefused],
  ['SIGTERM mid-migration, then a fresh process', sigtermMidMigration],
  [
    'leader killed during the backup Job, the standby takes over',
    (h) => leaderFailover(h, { moment: 'backup', leader: 'killed' }),
  ],
  [
    'leader killed mid-migration, the standby takes over',
    (h) => leaderFailover(h, { moment: 'migration', leader: 'killed' }),
  ],
];

describe('a run under faults ends whole: database, rows, workload, one backup, and status true to them', () => {
  it.each(scenarios)(
    '%s',
    async (_name, run) => {
      const report = await run(h);
      expect(report.during).toEqual([]);
      expect(report.violations).toEqual([]);
    },
    90_000,
  );
});
