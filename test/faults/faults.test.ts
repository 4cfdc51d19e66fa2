import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventsV1Api } from '@kubernetes/client-node';
import { startHarness, type Harness } from '../controller/harness.js';
import { testPostgres } from '../support/db.js';
import { processArgs } from '../secrets/support.js';
import { operatorOutputs } from '../support/operator-process.js';
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
/** Every command line on the machine, sampled through the whole suite. */
const commandLines = new Set<string>();
let sampling = true;
let sampler: Promise<void> = Promise.resolve();
beforeAll(async () => {
  h = await startHarness({ podReadyDelayMs: 700 });
  sampler = (async () => {
    while (sampling) {
      for (const line of await processArgs()) commandLines.add(line.replace(/^\s*\d+\s+/, ''));
      await sleep(50);
    }
  })();
}, 60_000);
afterAll(async () => {
  sampling = false;
  await sampler;
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

describe('a run under faults ends whole: database, rows, workload, each backup once, and status true to them', () => {
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

describe('after the faults', () => {
  it('finds the database password in no operator log, Event, status, Job or Pod spec, nor any command line', async () => {
    sampling = false;
    await sampler;
    const { password } = testPostgres();
    const namespaces = (await h.core.listNamespace()).items.map((n) => n.metadata?.name ?? '');
    const places: [string, unknown][] = [['operator logs', operatorOutputs()]];
    places.push(['Events', (await h.kc.makeApiClient(EventsV1Api).listEventForAllNamespaces({})).items]);
    places.push(['core Events', (await h.core.listEventForAllNamespaces({})).items]);
    for (const namespace of namespaces) {
      places.push([`SchemaMigrations in ${namespace}`, await h.kube.listSchemaMigrations(namespace)]);
      places.push([`Jobs in ${namespace}`, (await h.batch.listNamespacedJob({ namespace })).items]);
      places.push([`Pods in ${namespace}`, (await h.core.listNamespacedPod({ namespace })).items]);
    }
    places.push(['command lines', [...commandLines]]);
    expect(operatorOutputs().join('').length).toBeGreaterThan(0);
    expect([...commandLines].some((line) => line.includes('kube-apiserver'))).toBe(true);
    const leaks = places
      .filter(([, value]) => JSON.stringify(value).includes(password))
      .map(([where]) => where);
    expect(leaks).toEqual([]);
  });
});
