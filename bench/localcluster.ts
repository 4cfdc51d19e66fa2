// Measures the local control plane's own cost: requests per second for GET and PATCH, and the rate at
// which one write reaches 100 open watches.
import { startLocalCluster } from '../src/localcluster/index.js';

const concurrency = 16;
const durationMs = 2000;

async function rate(label: string, request: () => Promise<Response>): Promise<void> {
  const deadline = Date.now() + durationMs;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const response = await request();
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${label}: HTTP ${response.status}`);
      done += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `${label.padEnd(28)} ${(done / seconds).toFixed(0).padStart(8)} requests/s (${done} in ${seconds.toFixed(1)} s, ${concurrency} concurrent)`,
  );
}

async function watchFanOut(url: string, watchers: number, writes: number): Promise<void> {
  const path = `${url}/api/v1/namespaces/default/configmaps`;
  const list = (await (await fetch(path)).json()) as { metadata: { resourceVersion: string } };
  const controllers: AbortController[] = [];
  const received = new Array<number>(watchers).fill(0);
  const streams = Array.from({ length: watchers }, async (_, i) => {
    const controller = new AbortController();
    controllers.push(controller);
    const response = await fetch(
      `${path}?watch=true&resourceVersion=${list.metadata.resourceVersion}&labelSelector=bench%3Dfan`,
      { signal: controller.signal },
    );
    const reader = response.body?.getReader();
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) return;
        for (const byte of chunk.value) if (byte === 10) received[i] = (received[i] ?? 0) + 1;
      }
    } catch {
      // aborted
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = Date.now();
  for (let i = 0; i < writes; i++) {
    const body = JSON.stringify({ metadata: { name: `fan-${i}`, labels: { bench: 'fan' } } });
    await fetch(path, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
  }
  const deadline = Date.now() + 30_000;
  while (received.some((n) => n < writes) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = (Date.now() - started) / 1000;
  const delivered = received.reduce((a, b) => a + b, 0);
  for (const controller of controllers) controller.abort();
  await Promise.allSettled(streams);
  console.log(
    `${'watch fan-out (100 watchers)'.padEnd(28)} ${(delivered / seconds).toFixed(0).padStart(8)} events/s (${writes} writes x ${watchers} watchers in ${seconds.toFixed(2)} s, ${(writes / seconds).toFixed(0)} writes/s)`,
  );
}

const cluster = await startLocalCluster({
  controllers: { workloads: false, jobs: false, garbageCollector: false },
});
try {
  const cm = `${cluster.url}/api/v1/namespaces/default/configmaps`;
  await fetch(cm, {
    method: 'POST',
    body: JSON.stringify({ metadata: { name: 'bench' }, data: { n: '0' } }),
    headers: { 'Content-Type': 'application/json' },
  });
  await rate('GET configmap', () => fetch(`${cm}/bench`));
  let n = 0;
  await rate('PATCH configmap (merge)', () =>
    fetch(`${cm}/bench`, {
      method: 'PATCH',
      body: JSON.stringify({ data: { n: String(++n) } }),
      headers: { 'Content-Type': 'application/merge-patch+json' },
    }),
  );
  await watchFanOut(cluster.url, 100, 200);
} finally {
  await cluster.stop();
}
