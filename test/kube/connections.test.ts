import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClient, reuseConnections } from '../../src/kube/client.js';
import { startLocalCluster, type LocalCluster } from '../../src/localcluster/index.js';

let cluster: LocalCluster;
let proxyPort: number;
let connections = 0;
const sockets: Socket[] = [];
const proxy = createServer((client) => {
  connections++;
  const upstream = connect(cluster.port, '127.0.0.1');
  sockets.push(client, upstream);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});

beforeAll(async () => {
  cluster = await startLocalCluster();
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  proxyPort = typeof address === 'object' && address ? address.port : 0;
});
afterAll(async () => {
  sockets.forEach((s) => s.destroy());
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await cluster.stop();
});

describe('API connections', () => {
  it('are reused across requests (one pool per cluster and user)', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig({ server: `https://127.0.0.1:${proxyPort}` }));
    reuseConnections(kc);
    const kube = createKubeClient(kc);
    connections = 0;
    for (let i = 0; i < 10; i++) await kube.getConfigMapData({ namespace: 'default', name: `missing-${i}` });
    expect(connections).toBeLessThanOrEqual(2);
  });
});
