import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, EventsV1Api, KubeConfig, type EventsV1Event } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createEventRecorder, type EventRecorder, type EventSubject } from '../../src/kube/events.js';
import { startClusterWithFaults, type ClusterWithFaults } from '../support/fault-proxy.js';
import { waitFor } from '../support/wait.js';

const ns = 'kube-events';
const reporter = { reportingController: 'schemaops.dev/operator', reportingInstance: 'schemaops-7d9f-x2k4' };

let cluster: ClusterWithFaults;
let kc: KubeConfig;
let events: EventsV1Api;
let recorder: EventRecorder;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  cluster = await startClusterWithFaults();
  kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  events = kc.makeApiClient(EventsV1Api);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  recorder = createEventRecorder(kc, { ...reporter, log: pino({ level: 'debug' }, sink) });
});

afterAll(async () => {
  await cluster?.stop();
});

async function subject(name: string): Promise<EventSubject> {
  const created = await kc
    .makeApiClient(CoreV1Api)
    .createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { a: '1' } } });
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, uid: created.metadata!.uid! },
  };
}

async function eventsAbout(name: string): Promise<EventsV1Event[]> {
  const list = await events.listNamespacedEvent({ namespace: ns, fieldSelector: `regarding.name=${name}` });
  return list.items;
}

/** The stored Event as JSON, to see eventTime exactly as the server keeps it. */
async function rawEvent(name: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${cluster.url}/apis/events.k8s.io/v1/namespaces/${ns}/events/${name}`, {
    headers: { Authorization: `Bearer ${cluster.adminToken}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('event recorder (events.k8s.io/v1)', () => {
  it('records an Event about an object with every field the API requires', async () => {
    const object = await subject('orders-schema');
    await recorder.record(object, {
      type: 'Normal',
      reason: 'BackupSucceeded',
      action: 'Backup',
      note: 'backup orders-schema-backup-1 finished in 12s',
    });

    const [event] = await waitFor(async () => {
      const found = await eventsAbout('orders-schema');
      return found.length > 0 && found;
    });
    expect(event).toBeDefined();
    expect(event!.metadata?.name).toMatch(/^orders-schema\.[0-9a-f]{16}$/);
    expect(event).toMatchObject({
      type: 'Normal',
      reason: 'BackupSucceeded',
      action: 'Backup',
      note: 'backup orders-schema-backup-1 finished in 12s',
      reportingController: 'schemaops.dev/operator',
      reportingInstance: 'schemaops-7d9f-x2k4',
      regarding: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: 'orders-schema',
        namespace: ns,
        uid: object.metadata.uid,
      },
    });
    const stored = await rawEvent(event!.metadata!.name!);
    expect(stored.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Math.abs(Date.parse(stored.eventTime as string) - Date.now())).toBeLessThan(60_000);
    // kube-apiserver answers an unset deprecatedSource as {}.
    expect(stored.deprecatedSource ?? {}).toEqual({});
    for (const field of ['deprecatedFirstTimestamp', 'deprecatedCount'])
      expect(stored[field] ?? undefined).toBeUndefined();
  });

  it('gives each Event its own name so repeated steps are all kept', async () => {
    const object = await subject('orders-repeat');
    const warning = { type: 'Warning', reason: 'BackupFailed', action: 'Backup', note: 'exit 1' } as const;
    await recorder.record(object, warning);
    await recorder.record(object, warning);
    const found = await eventsAbout('orders-repeat');
    expect(found).toHaveLength(2);
    expect(new Set(found.map((e) => e.metadata?.name)).size).toBe(2);
    expect(found.every((e) => e.type === 'Warning')).toBe(true);
  });

  it('stores a note that carries a database URL with its password redacted', async () => {
    const object = await subject('orders-secret');
    await recorder.record(object, {
      type: 'Warning',
      reason: 'MigrationFailed',
      action: 'Migrate',
      note: 'could not connect to postgres://app:s3cret-Pa55@db.orders:5432/orders: timeout',
    });
    const [event] = await eventsAbout('orders-secret');
    expect(event?.note).toBe('could not connect to postgres://app:[redacted]@db.orders:5432/orders: timeout');
    expect(JSON.stringify(await rawEvent(event!.metadata!.name!))).not.toContain('s3cret-Pa55');
  });

  it('truncates a long note to 1024 bytes and long reasons and actions to 128', async () => {
    const object = await subject('orders-long');
    await recorder.record(object, {
      type: 'Warning',
      reason: 'R'.repeat(200),
      action: 'A'.repeat(200),
      note: `${'x'.repeat(1020)}ééé`,
    });
    const [event] = await eventsAbout('orders-long');
    expect(event?.reason).toBe('R'.repeat(128));
    expect(event?.action).toBe('A'.repeat(128));
    expect(event?.note).toBe(`${'x'.repeat(1020)}éé`);
  });

  it('swallows a failed create and logs it at debug, without the secret', async () => {
    const object = await subject('orders-fault');
    cluster.faults.failNext({ path: '/apis/events.k8s.io', status: 500 });
    await expect(
      recorder.record(object, {
        type: 'Normal',
        reason: 'Migrating',
        action: 'Migrate',
        note: 'using postgres://app:hunter22@db/orders',
      }),
    ).resolves.toBeUndefined();
    expect(await eventsAbout('orders-fault')).toHaveLength(0);
    const line = await waitFor(() => logLines.find((l) => l.msg === 'could not record event'));
    expect(line).toMatchObject({ level: 20, code: 500, reason: 'Migrating' });
    expect(JSON.stringify(logLines)).not.toContain('hunter22');

    await recorder.record(object, { type: 'Normal', reason: 'Migrating', action: 'Migrate', note: 'retry' });
    expect(await eventsAbout('orders-fault')).toHaveLength(1);
  });

  it('does not throw when the API server cannot be reached', async () => {
    const unreachable = new KubeConfig();
    unreachable.loadFromString(cluster.kubeconfig().replace(cluster.url, 'http://127.0.0.1:1'));
    const offline = createEventRecorder(unreachable, reporter);
    await expect(
      offline.record(await subject('orders-offline'), {
        type: 'Warning',
        reason: 'BackupFailed',
        action: 'Backup',
        note: 'n/a',
      }),
    ).resolves.toBeUndefined();
  });
});
