/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- API bodies are untyped JSON that the assertions check */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestCluster, waitFor, widgetCrd, type Json, type TestCluster } from './support.js';

let t: TestCluster;

beforeAll(async () => {
  t = await startTestCluster({ controllers: { workloads: { delayMs: 20 } }, bookmarkIntervalMs: 100 });
  expect(
    (await t.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', widgetCrd)).status,
  ).toBe(201);
});

afterAll(async () => {
  await t.close();
});

const widgets = '/apis/example.com/v1/namespaces/default/widgets';
const configmaps = '/api/v1/namespaces/default/configmaps';

function widget(name: string, spec: Json = { size: 1 }): Json {
  return { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name }, spec };
}

/** Opens a watch and collects its raw lines. */
async function openWatch(
  path: string,
): Promise<{ lines: string[]; events: () => Json[]; closed: Promise<void>; abort: () => void }> {
  const controller = new AbortController();
  const response = await fetch(`${t.cluster.url}${path}`, { signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json');
  const lines: string[] = [];
  const closed = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          lines.push(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    lines,
    events: () => lines.map((l) => JSON.parse(l) as Json),
    closed,
    abort: () => controller.abort(),
  };
}

describe('§1 version and discovery', () => {
  it('serves /version with a minor the kubectl dispatcher bundles', async () => {
    const { body } = await t.request('GET', '/version?timeout=5s');
    const v = body as Json;
    for (const key of [
      'major',
      'minor',
      'gitVersion',
      'gitCommit',
      'gitTreeState',
      'buildDate',
      'goVersion',
      'compiler',
      'platform',
    ])
      expect(v[key]).toEqual(expect.any(String));
    expect(Number(v.minor)).toBeGreaterThanOrEqual(27);
    expect(Number(v.minor)).toBeLessThanOrEqual(33);
  });

  it('answers /api with APIVersions and /apis with an APIGroupList, never as aggregated discovery', async () => {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
    const api = await t.request('GET', '/api', undefined, { Accept: accept });
    expect(api.headers.get('content-type')).toBe('application/json');
    expect(api.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const apis = await t.request('GET', '/apis', undefined, { Accept: accept });
    expect(apis.headers.get('content-type')).toBe('application/json');
    const groups = (apis.body as Json).groups as Json[];
    expect((apis.body as Json).kind).toBe('APIGroupList');
    expect(groups.find((g) => g.name === 'apps')).toMatchObject({
      versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
      preferredVersion: { groupVersion: 'apps/v1' },
    });
  });

  it('lists resources with short names, categories and subresources, the main resource first', async () => {
    const core = (await t.request('GET', '/api/v1')).body as Json;
    const cm = (core.resources as Json[]).find((r) => r.name === 'configmaps');
    expect(cm).toMatchObject({
      singularName: 'configmap',
      namespaced: true,
      kind: 'ConfigMap',
      shortNames: ['cm'],
    });
    const appsList = ((await t.request('GET', '/apis/apps/v1')).body as Json).resources as Json[];
    const names = appsList.map((r) => r.name);
    expect(names.indexOf('deployments')).toBeLessThan(names.indexOf('deployments/status'));
    expect(appsList.find((r) => r.name === 'deployments/status')?.verbs).toEqual(['get', 'patch', 'update']);
    expect(appsList.find((r) => r.name === 'deployments/scale')).toMatchObject({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
    expect(appsList.find((r) => r.name === 'deployments')?.categories).toEqual(['all']);
  });

  it('serves /openapi/v3 with a PATCH operation per kind that offers fieldValidation', async () => {
    const root = (await t.request('GET', '/openapi/v3')).body as Json;
    const url = (root.paths['apis/example.com/v1'] as Json).serverRelativeURL as string;
    expect(url).toMatch(/^\/openapi\/v3\/apis\/example.com\/v1\?hash=/);
    const doc = (await t.request('GET', url)).body as Json;
    const patch = Object.values(doc.paths as Json).map((p: Json) => p.patch as Json)[0];
    expect(patch?.['x-kubernetes-group-version-kind']).toEqual({
      group: 'example.com',
      version: 'v1',
      kind: 'Widget',
    });
    expect((patch?.parameters as Json[]).map((p) => p.name)).toContain('fieldValidation');
  });
});

describe('§3 metadata', () => {
  it('hands out string resourceVersions from one counter and does not bump on a no-op write', async () => {
    const created = (await t.request('POST', configmaps, { metadata: { name: 'rv' }, data: { a: '1' } }))
      .body as Json;
    expect(created.metadata.resourceVersion).toEqual(expect.stringMatching(/^\d+$/));
    const list = (await t.request('GET', configmaps)).body as Json;
    expect(list.metadata.resourceVersion).toEqual(expect.any(String));
    const watch = await openWatch(
      `${configmaps}?watch=true&resourceVersion=${created.metadata.resourceVersion}`,
    );
    const same = await t.request('PUT', `${configmaps}/rv`, created);
    expect(same.status).toBe(200);
    expect((same.body as Json).metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    const changed = (await t.request('PUT', `${configmaps}/rv`, { ...created, data: { a: '2' } }))
      .body as Json;
    expect(Number(changed.metadata.resourceVersion)).toBeGreaterThan(
      Number(created.metadata.resourceVersion),
    );
    await waitFor(() => watch.lines.length >= 1);
    watch.abort();
    expect(watch.events().map((e) => [e.type, e.object.data.a])).toEqual([['MODIFIED', '2']]);
  });

  it('sets uid, creationTimestamp, generation and namespace on create and keeps them on update', async () => {
    const created = (
      await t.request('POST', widgets, {
        ...widget('meta'),
        metadata: { name: 'meta', generation: 7, uid: 'mine' },
      })
    ).body as Json;
    expect(created.metadata).toMatchObject({ namespace: 'default', generation: 1 });
    expect(created.metadata.uid).not.toBe('mine');
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const updated = (
      await t.request('PUT', `${widgets}/meta`, {
        ...created,
        metadata: {
          ...created.metadata,
          uid: 'x',
          generation: 40,
          creationTimestamp: '2000-01-01T00:00:00Z',
        },
      })
    ).body as Json;
    expect(updated.metadata).toMatchObject({
      uid: created.metadata.uid,
      creationTimestamp: created.metadata.creationTimestamp,
      generation: 1,
    });
    const withRv = await t.request('POST', widgets, {
      ...widget('rvset'),
      metadata: { name: 'rvset', resourceVersion: '5' },
    });
    expect(withRv.status).toBe(500);
    expect((withRv.body as Json).message).toContain(
      'resourceVersion should not be set on objects to be created',
    );
  });

  it('bumps a custom resource generation on spec changes only, and a Deployment on annotations too', async () => {
    const w = (await t.request('POST', widgets, widget('gen'))).body as Json;
    const labelled = (
      await t.request(
        'PATCH',
        `${widgets}/gen`,
        { metadata: { labels: { a: 'b' } } },
        { 'Content-Type': 'application/merge-patch+json' },
      )
    ).body as Json;
    expect(labelled.metadata.generation).toBe(w.metadata.generation);
    const spec = (
      await t.request(
        'PATCH',
        `${widgets}/gen`,
        { spec: { size: 2 } },
        { 'Content-Type': 'application/merge-patch+json' },
      )
    ).body as Json;
    expect(spec.metadata.generation).toBe(2);
    const labels = { app: 'gen' };
    const deployment = {
      metadata: { name: 'gen' },
      spec: {
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    await t.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment);
    const annotated = (
      await t.request(
        'PATCH',
        '/apis/apps/v1/namespaces/default/deployments/gen',
        { metadata: { annotations: { x: 'y' } } },
        { 'Content-Type': 'application/merge-patch+json' },
      )
    ).body as Json;
    expect(annotated.metadata.generation).toBe(2);
  });

  it('marks an object with finalizers as deleting, forbids new finalizers, and deletes it when they are gone', async () => {
    await t.request('POST', widgets, {
      ...widget('fin'),
      metadata: { name: 'fin', finalizers: ['example.com/a'] },
    });
    const watch = await openWatch(`${widgets}?watch=true&fieldSelector=metadata.name%3Dfin`);
    const deleting = await t.request('DELETE', `${widgets}/fin`, { propagationPolicy: 'Background' });
    expect(deleting.status).toBe(200);
    const obj = deleting.body as Json;
    expect(obj.kind).toBe('Widget');
    expect(obj.metadata).toMatchObject({ deletionGracePeriodSeconds: 0, generation: 2 });
    expect(obj.metadata.deletionTimestamp).toEqual(expect.any(String));
    const added = await t.request(
      'PATCH',
      `${widgets}/fin`,
      [{ op: 'add', path: '/metadata/finalizers/-', value: 'example.com/b' }],
      { 'Content-Type': 'application/json-patch+json' },
    );
    expect(added.status).toBe(422);
    const removed = await t.request(
      'PATCH',
      `${widgets}/fin`,
      { metadata: { finalizers: null } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect(removed.status).toBe(200);
    expect((await t.request('GET', `${widgets}/fin`)).status).toBe(404);
    await waitFor(() => watch.events().some((e) => e.type === 'DELETED'));
    watch.abort();
    expect(watch.events().map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
  });
});

describe('§4 verbs and errors', () => {
  it('answers errors with Status bodies and application/json', async () => {
    const missing = await t.request('GET', '/apis/apps/v1/namespaces/default/deployments/nope');
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(missing.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'deployments.apps "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', group: 'apps', kind: 'deployments' },
      code: 404,
    });
    expect(((await t.request('GET', `${configmaps}/nope`)).body as Json).message).toBe(
      'configmaps "nope" not found',
    );
    await t.request('POST', configmaps, { metadata: { name: 'dup' } });
    const dup = await t.request('POST', configmaps, { metadata: { name: 'dup' } });
    expect(dup.body).toMatchObject({
      code: 409,
      reason: 'AlreadyExists',
      details: { name: 'dup', kind: 'configmaps' },
    });
    const bad = await t.request('POST', widgets, widget('bad', { size: 'big', color: 'green' }));
    expect(bad.status).toBe(422);
    const body = bad.body as Json;
    expect(body.message).toMatch(/^Widget.example.com "bad" is invalid: /);
    expect(body.details.causes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'FieldValueTypeInvalid', field: 'spec.size' }),
        expect.objectContaining({ reason: 'FieldValueNotSupported', field: 'spec.color' }),
      ]),
    );
    const gone = await t.request('DELETE', `${configmaps}/dup`);
    expect(gone.body).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'dup', kind: 'configmaps' },
    });
    expect((gone.body as Json).details.uid).toEqual(expect.any(String));
    const garbage = await t.request('POST', configmaps, 'not json');
    expect(garbage.status).toBe(400);
  });

  it('follows the PUT rules: CRs and Leases need a resourceVersion, a missing Lease is created, Deployments allow unconditional updates', async () => {
    const created = await t.request('POST', widgets, widget('put'));
    expect(created.status).toBe(201);
    const noRv = await t.request('PUT', `${widgets}/put`, widget('put', { size: 2 }));
    expect(noRv.status).toBe(422);
    expect((noRv.body as Json).message).toContain('metadata.resourceVersion');
    const stale = await t.request('PUT', `${widgets}/put`, {
      ...widget('put'),
      metadata: { name: 'put', resourceVersion: '1' },
    });
    expect(stale.status).toBe(409);
    expect(
      (
        await t.request('PUT', `${widgets}/absent`, {
          ...widget('absent'),
          metadata: { name: 'absent', resourceVersion: '1' },
        })
      ).status,
    ).toBe(404);
    const lease = await t.request('PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/leader', {
      metadata: { name: 'leader' },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15 },
    });
    expect(lease.status).toBe(201);
    const dep = (await t.request('GET', '/apis/apps/v1/namespaces/default/deployments/gen')).body as Json;
    delete dep.metadata.resourceVersion;
    expect(
      (
        await t.request('PUT', '/apis/apps/v1/namespaces/default/deployments/gen', {
          ...dep,
          spec: { ...dep.spec, replicas: 2 },
        })
      ).status,
    ).toBe(200);
  });

  it('applies each PATCH type by its Content-Type', async () => {
    await t.request('POST', widgets, {
      ...widget('p', { size: 1, color: 'red' }),
      metadata: { name: 'p', labels: { a: '1', b: '2' } },
    });
    const json = (type: string, body: unknown): Promise<{ status: number; body: unknown }> =>
      t.request('PATCH', `${widgets}/p`, body, { 'Content-Type': type });
    expect(
      (await json('application/json-patch+json', [{ op: 'test', path: '/spec/size', value: 9 }])).body,
    ).toMatchObject({ code: 422, message: 'the server rejected our request due to an error in our request' });
    expect((await json('application/json-patch+json', { spec: {} })).status).toBe(400);
    const merged = (
      await json('application/merge-patch+json', { metadata: { labels: { a: null } }, spec: { color: null } })
    ).body as Json;
    expect(merged.metadata.labels).toEqual({ b: '2' });
    expect(merged.spec.color).toBe('blue');
    expect((await json('application/strategic-merge-patch+json', { spec: { size: 2 } })).body).toMatchObject({
      code: 415,
      reason: 'UnsupportedMediaType',
    });
    expect(
      (await json('application/merge-patch+json', { metadata: { resourceVersion: '1' }, spec: { size: 3 } }))
        .status,
    ).toBe(409);
    expect(
      (
        await t.request(
          'PATCH',
          `${widgets}/nope`,
          { spec: {} },
          { 'Content-Type': 'application/merge-patch+json' },
        )
      ).status,
    ).toBe(404);
    expect(
      (
        await t.request(
          'PATCH',
          `${widgets}/p?force=true`,
          { spec: {} },
          { 'Content-Type': 'application/merge-patch+json' },
        )
      ).status,
    ).toBe(422);

    await t.request('POST', configmaps, { metadata: { name: 'smp', finalizers: ['a/one'] } });
    const smp = (
      await t.request(
        'PATCH',
        `${configmaps}/smp`,
        { metadata: { finalizers: ['a/two'] } },
        { 'Content-Type': 'application/strategic-merge-patch+json' },
      )
    ).body as Json;
    expect(smp.metadata.finalizers).toEqual(['a/one', 'a/two']);
  });

  it('supports server-side apply: create, field removal, conflicts and force', async () => {
    const path = `${configmaps}/ssa`;
    const apply = (body: string, query: string): Promise<{ status: number; body: unknown }> =>
      t.request('PATCH', `${path}${query}`, body, { 'Content-Type': 'application/apply-patch+yaml' });
    expect(
      (await apply('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "1"}\n', '')).status,
    ).toBe(422);
    const created = await apply(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "1", b: "2"}\n',
      '?fieldManager=one',
    );
    expect(created.status).toBe(201);
    const dropped = (
      await apply(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "1"}\n',
        '?fieldManager=one',
      )
    ).body as Json;
    expect(dropped.data).toEqual({ a: '1' });
    const conflict = await apply(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "9"}\n',
      '?fieldManager=two',
    );
    expect(conflict.status).toBe(409);
    expect((conflict.body as Json).message).toBe(
      'Apply failed with 1 conflict: conflict with "one": .data.a',
    );
    const forced = (
      await apply(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "9"}\n',
        '?fieldManager=two&force=true',
      )
    ).body as Json;
    expect(forced.data).toEqual({ a: '9' });
  });

  it('returns typed lists and filters them by label and field selectors', async () => {
    for (const [name, labels] of [
      ['l1', { tier: 'web', env: 'prod' }],
      ['l2', { tier: 'db' }],
      ['l3', {}],
    ] as const) {
      await t.request('POST', configmaps, { metadata: { name, labels } });
    }
    const list = (await t.request('GET', `${configmaps}?labelSelector=tier`)).body as Json;
    expect(list.kind).toBe('ConfigMapList');
    expect(list.items[0].kind).toBeUndefined();
    const names = async (query: string): Promise<string[]> =>
      (((await t.request('GET', `${configmaps}?${query}`)).body as Json).items as Json[])
        .map((i) => i.metadata.name as string)
        .filter((n) => /^l\d$/.test(n));
    expect(await names('labelSelector=tier%3Dweb')).toEqual(['l1']);
    expect(await names('labelSelector=tier%3D%3Ddb')).toEqual(['l2']);
    expect(await names('labelSelector=tier!%3Dweb')).toEqual(['l2', 'l3']);
    expect(await names('labelSelector=tier%20in%20(web,db)')).toEqual(['l1', 'l2']);
    expect(await names('labelSelector=tier%20notin%20(web)')).toEqual(['l2', 'l3']);
    expect(await names('labelSelector=!tier')).toEqual(['l3']);
    expect(await names('fieldSelector=metadata.name%3Dl2')).toEqual(['l2']);
    expect(
      await names('fieldSelector=metadata.namespace%3Ddefault,metadata.name!%3Dl2&labelSelector=tier'),
    ).toEqual(['l1']);
    const unsupported = await t.request('GET', `${configmaps}?fieldSelector=data.a%3Db`);
    expect(unsupported.body).toMatchObject({ code: 400, message: 'field label not supported: data.a' });
    const crList = (await t.request('GET', widgets)).body as Json;
    expect(crList.kind).toBe('WidgetList');
    expect(crList.items[0]).toMatchObject({ kind: 'Widget', apiVersion: 'example.com/v1' });
  });
});

describe('§5 subresources', () => {
  it('drops status on create, keeps it on main writes, and clears it through /status when the body has none', async () => {
    const created = (await t.request('POST', widgets, { ...widget('st'), status: { x: 1 } })).body as Json;
    expect(created.status).toBeUndefined();
    const set = (await t.request('PUT', `${widgets}/st/status`, { ...created, status: { x: 2 } }))
      .body as Json;
    expect(set.status).toEqual({ x: 2 });
    const noRv = await t.request('PUT', `${widgets}/st/status`, { ...widget('st'), status: { x: 3 } });
    expect(noRv.status).toBe(422);
    const cleared = (await t.request('PUT', `${widgets}/st/status`, { ...set, status: undefined }))
      .body as Json;
    expect(cleared.status).toBeUndefined();
    expect(cleared.metadata.generation).toBe(1);
  });

  it('reads a custom resource Scale with zero and empty defaults, and writes it as a spec change', async () => {
    await t.request('POST', widgets, widget('sc'));
    const scale = (await t.request('GET', `${widgets}/sc/scale`)).body as Json;
    expect(scale).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: {},
      status: { replicas: 0 },
    });
    const written = await t.request(
      'PATCH',
      `${widgets}/sc/scale`,
      { spec: { replicas: 2 } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect((written.body as Json).spec.replicas).toBe(2);
    expect(((await t.request('GET', `${widgets}/sc`)).body as Json).metadata.generation).toBe(2);
  });
});

describe('§6 watch', () => {
  it('streams compact JSON lines: synthetic ADDED, replay after a resourceVersion, and bookmarks on request', async () => {
    const first = (await t.request('POST', configmaps, { metadata: { name: 'w-1', labels: { w: 'x' } } }))
      .body as Json;
    await t.request('POST', configmaps, { metadata: { name: 'w-2', labels: { w: 'x' } } });
    const initial = await openWatch(`${configmaps}?watch=true&labelSelector=w&timeoutSeconds=1`);
    await initial.closed;
    expect(initial.lines.every((l) => !l.includes('\n') && !l.includes('  '))).toBe(true);
    expect(initial.events().map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'w-1'],
      ['ADDED', 'w-2'],
    ]);
    const replay = await openWatch(
      `${configmaps}?watch=true&labelSelector=w&resourceVersion=${first.metadata.resourceVersion}&allowWatchBookmarks=true`,
    );
    await waitFor(() => replay.events().some((e) => e.type === 'BOOKMARK'), { what: 'a bookmark' });
    replay.abort();
    expect(replay.events()[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'w-2' } } });
    const bookmark = replay.events().find((e) => e.type === 'BOOKMARK');
    expect(Object.keys(bookmark?.object.metadata ?? {})).toEqual(['resourceVersion']);
  });

  it('sends 410 Expired as an ERROR event on a 200 stream and closes it', async () => {
    const old = ((await t.request('GET', configmaps)).body as Json).metadata.resourceVersion as string;
    t.cluster.faults.expireResourceVersions();
    const watch = await openWatch(`${configmaps}?watch=true&resourceVersion=${old}`);
    await watch.closed;
    expect(watch.events()).toEqual([
      {
        type: 'ERROR',
        object: expect.objectContaining({
          kind: 'Status',
          status: 'Failure',
          reason: 'Expired',
          code: 410,
          message: expect.stringMatching(/^too old resource version: \d+ \(\d+\)$/),
        }),
      },
    ]);
  });

  it('turns selector transitions into ADDED and DELETED events', async () => {
    const watch = await openWatch(
      `${configmaps}?watch=true&labelSelector=phase%3Dhot&resourceVersion=${((await t.request('GET', configmaps)).body as Json).metadata.resourceVersion as string}`,
    );
    await t.request('POST', configmaps, { metadata: { name: 'sel', labels: { phase: 'cold' } } });
    const hot = (
      await t.request(
        'PATCH',
        `${configmaps}/sel`,
        { metadata: { labels: { phase: 'hot' } } },
        { 'Content-Type': 'application/merge-patch+json' },
      )
    ).body as Json;
    const cold = (
      await t.request(
        'PATCH',
        `${configmaps}/sel`,
        { metadata: { labels: { phase: 'cold' } } },
        { 'Content-Type': 'application/merge-patch+json' },
      )
    ).body as Json;
    await waitFor(() => watch.lines.length >= 2);
    watch.abort();
    const events = watch.events();
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
    expect(events[0]?.object.metadata.resourceVersion).toBe(hot.metadata.resourceVersion);
    expect(events[1]?.object.metadata).toMatchObject({
      resourceVersion: cold.metadata.resourceVersion,
      labels: { phase: 'hot' },
    });
  });
});

describe('§7 CRDs', () => {
  it('accepts names, sets Established, and only then serves the group with the preferred version first', async () => {
    expect((await t.request('GET', '/apis/demo.example.com')).status).toBe(404);
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.demo.example.com' },
      spec: {
        group: 'demo.example.com',
        scope: 'Cluster',
        names: { plural: 'gadgets', kind: 'Gadget' },
        versions: [
          {
            name: 'v1beta1',
            served: true,
            storage: false,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    const created = (await t.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd))
      .body as Json;
    expect(created.status.acceptedNames).toMatchObject({
      plural: 'gadgets',
      kind: 'Gadget',
      singular: 'gadget',
      listKind: 'GadgetList',
    });
    expect(created.status.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Established', status: 'True' }),
        expect.objectContaining({ type: 'NamesAccepted', status: 'True' }),
      ]),
    );
    const group = (await t.request('GET', '/apis/demo.example.com')).body as Json;
    expect(group.preferredVersion).toEqual({ groupVersion: 'demo.example.com/v1', version: 'v1' });
    expect(group.versions.map((v: Json) => v.version)).toEqual(['v1', 'v1beta1']);
    const wrongName = await t.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      ...crd,
      metadata: { name: 'wrong' },
    });
    expect(wrongName.status).toBe(422);
  });

  it('prints a Table with Name and the printer columns, and Age only when a CRD defines none', async () => {
    const accept = { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' };
    const table = (await t.request('GET', widgets, undefined, accept)).body as Json;
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c: Json) => c.name)).toEqual(['Name', 'Size', 'Ready']);
    await t.request('POST', '/apis/demo.example.com/v1/gadgets', {
      apiVersion: 'demo.example.com/v1',
      kind: 'Gadget',
      metadata: { name: 'g' },
    });
    const plain = (await t.request('GET', '/apis/demo.example.com/v1/gadgets', undefined, accept))
      .body as Json;
    expect(plain.columnDefinitions.map((c: Json) => c.name)).toEqual(['Name', 'Age']);
    expect(plain.rows[0].cells[0]).toBe('g');
  });
});

describe('§8 events, leases and workload status', () => {
  it('requires MicroTime with exactly six fractional digits', async () => {
    const event = (eventTime: string): Json => ({
      metadata: { name: `e${Math.random().toString(36).slice(2, 8)}` },
      eventTime,
      type: 'Normal',
      reason: 'Migrated',
      action: 'Migrate',
      reportingController: 'schemaops.dev/operator',
      reportingInstance: 'op-1',
      regarding: { kind: 'ConfigMap', name: 'x', namespace: 'default' },
    });
    const events = '/apis/events.k8s.io/v1/namespaces/default/events';
    const millis = await t.request('POST', events, event('2026-01-01T00:00:00.103Z'));
    expect(millis.status).toBe(400);
    expect((millis.body as Json).message).toContain('cannot parse ".103Z" as ".000000"');
    expect((await t.request('POST', events, event('2026-01-01T00:00:00.103000Z'))).status).toBe(201);
    const incomplete = await t.request('POST', events, {
      ...event('2026-01-01T00:00:00.103000Z'),
      reportingController: undefined,
      type: 'Odd',
    });
    expect(incomplete.status).toBe(422);
  });

  it('validates Lease spec and lets only one of two racing holders win', async () => {
    const path = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    expect(
      (await t.request('POST', path, { metadata: { name: 'bad' }, spec: { leaseDurationSeconds: 0 } }))
        .status,
    ).toBe(422);
    expect(
      (
        await t.request('POST', path, {
          metadata: { name: 'bad' },
          spec: { renewTime: '2026-01-01T00:00:00Z' },
        })
      ).status,
    ).toBe(400);
    const lease = (
      await t.request('POST', path, {
        metadata: { name: 'race' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 },
      })
    ).body as Json;
    const a = await t.request('PUT', `${path}/race`, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'c', leaseTransitions: 1 },
    });
    const b = await t.request('PUT', `${path}/race`, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'b', leaseTransitions: 1 },
    });
    expect([a.status, b.status]).toEqual([200, 409]);
  });

  it('omits zero-valued status counts and reports a finished rollout', async () => {
    const labels = { app: 'zero' };
    await t.request('POST', '/apis/apps/v1/namespaces/default/deployments', {
      metadata: { name: 'zero' },
      spec: {
        replicas: 0,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    });
    const status = await waitFor(async () => {
      const d = (await t.request('GET', '/apis/apps/v1/namespaces/default/deployments/zero')).body as Json;
      return d.status?.observedGeneration === 1 ? (d.status as Json) : undefined;
    });
    expect(status.replicas).toBeUndefined();
    expect(status.readyReplicas).toBeUndefined();
    expect(status.availableReplicas).toBeUndefined();
  });
});

describe('fault injection', () => {
  it('fails the next requests to a path and delays responses, through the HTTP control API', async () => {
    expect(
      (await t.request('POST', '/_schemaops/faults/fail', { path: configmaps, status: 503, count: 2 }))
        .status,
    ).toBe(200);
    expect((await t.request('GET', configmaps)).body).toMatchObject({
      kind: 'Status',
      code: 503,
      reason: 'ServiceUnavailable',
    });
    expect((await t.request('GET', configmaps)).status).toBe(503);
    expect((await t.request('GET', configmaps)).status).toBe(200);
    await t.request('POST', '/_schemaops/faults/delay', {
      path: '/api/v1/namespaces/default/secrets',
      ms: 150,
      count: 1,
    });
    const started = Date.now();
    await t.request('GET', '/api/v1/namespaces/default/secrets');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect((await t.request('POST', '/_schemaops/faults/fail', { path: '/x', status: 200 })).status).toBe(
      400,
    );
    const watch = await openWatch(
      `${configmaps}?watch=true&resourceVersion=${((await t.request('GET', configmaps)).body as Json).metadata.resourceVersion as string}`,
    );
    const cut = (await t.request('POST', '/_schemaops/faults/cut-watches')).body as Json;
    expect(cut.cut).toBeGreaterThanOrEqual(1);
    await watch.closed;
    expect((await t.request('DELETE', '/_schemaops/faults')).status).toBe(200);
  });
});
