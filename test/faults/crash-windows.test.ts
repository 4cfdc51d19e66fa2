import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FINALIZER } from '../../src/api/v1alpha1/keys.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { startHarness, type Harness } from '../controller/harness.js';
import { runWithKills, stopAll } from './crash.js';
import { everScaledDown, groupKillPoints, KILL_POINTS, onView, type KillPoint } from './kill-points.js';
import { conditionIs } from './observe.js';
import { leaderFailover, statusLostAfterCommit } from './scenarios.js';

// The crash windows a run must close: a kill between Ready and the finalizer's removal, a Migrated write lost after
// the commit, and a lease lost around the migrate step.

const beforeFinalize: KillPoint = {
  name: 'after Ready is written, before the finalizer is removed',
  mid: false,
  // The finalizer's removal is held in the proxy (armed once the run's own finalizer is on), so the kill
  // lands between the two writes every time; the held request is dropped with the killed client.
  prepare: async (k) => {
    const { namespace, name } = k.run.fixture.ref;
    void k.observer
      .until(
        (v) => everScaledDown(v) && (v.object?.metadata.finalizers ?? []).includes(FINALIZER),
        'finalizer',
      )
      .then(() =>
        k.h.faults.delay({
          path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}/${name}`,
          exact: true,
          method: 'PATCH',
          ms: 5_000,
          count: 1,
        }),
      )
      .catch(() => undefined);
    return Promise.resolve(undefined);
  },
  reached: onView((v) => conditionIs(v.object, 'Ready', 'True'), 'Ready=True'),
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ podReadyDelayMs: 700 });
}, 60_000);
afterAll(async () => {
  await stopAll();
  await h.stop();
});

const SEED = 20261121;

describe('crash windows around the end of a run', () => {
  it(`seed ${SEED}: SIGKILL after Ready is written, before the finalizer is removed (after the seed's other kills)`, async () => {
    const [earlier = []] = groupKillPoints(KILL_POINTS, SEED, 6);
    const report = await runWithKills(h, [...earlier, beforeFinalize]);
    expect(report.violations).toEqual([]);
  }, 120_000);

  it('status writes fail (500) right after the migration commits', async () => {
    const report = await statusLostAfterCommit(h);
    expect(report.during).toEqual([]);
    expect(report.violations).toEqual([]);
  }, 90_000);

  it.each([['backup' as const], ['migration' as const]])(
    'leader failover: lease renewals of the leader fail during the %s, the standby takes over',
    async (moment) => {
      const report = await leaderFailover(h, { moment, leader: 'renewals fail' });
      expect(report.during).toEqual([]);
      expect(report.violations).toEqual([]);
    },
    90_000,
  );
});
