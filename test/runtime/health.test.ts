import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createMetrics } from '../../src/runtime/metrics.js';
import { parseListenAddress, startHttpServers, type HttpServers } from '../../src/runtime/health.js';

const log = pino({ level: 'silent' });
let servers: HttpServers | undefined;

afterEach(async () => {
  await servers?.close();
  servers = undefined;
});

async function get(
  port: number,
  path: string,
): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

describe('metrics and health servers', () => {
  it('serves /metrics on one port and the probes on another', async () => {
    const metrics = createMetrics();
    metrics.reconciled('success', 0.1);
    servers = await startHttpServers({
      metricsAddr: '127.0.0.1:0',
      healthAddr: ':0',
      registry: metrics.registry,
      isReady: () => true,
      log,
    });
    expect(servers.metricsPort).not.toBe(servers.healthPort);

    const scrape = await get(servers.metricsPort, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.type).toBe(metrics.registry.contentType);
    expect(scrape.body).toContain('schemaops_reconciles_total{result="success"} 1');

    expect(await get(servers.healthPort, '/healthz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(servers.healthPort, '/readyz')).toMatchObject({ status: 200, body: 'ok' });
    expect((await get(servers.healthPort, '/metrics')).status).toBe(404);
    expect((await get(servers.metricsPort, '/healthz')).status).toBe(404);
    expect((await get(servers.healthPort, '/nothing')).status).toBe(404);
  });

  it('answers /readyz 503 until the operator is ready, and /healthz 503 once it is not live', async () => {
    let ready = false;
    let live = true;
    servers = await startHttpServers({
      metricsAddr: ':0',
      healthAddr: ':0',
      registry: createMetrics().registry,
      isReady: () => ready,
      isLive: () => live,
      log,
    });
    expect(await get(servers.healthPort, '/readyz')).toMatchObject({ status: 503, body: 'not ready' });
    expect((await get(servers.healthPort, '/healthz')).status).toBe(200);
    ready = true;
    expect(await get(servers.healthPort, '/readyz')).toMatchObject({ status: 200, body: 'ok' });
    live = false;
    expect((await get(servers.healthPort, '/healthz')).status).toBe(503);
  });

  it('serves everything on one server when both addresses are the same', async () => {
    const metrics = createMetrics();
    servers = await startHttpServers({
      metricsAddr: '127.0.0.1:0',
      healthAddr: '127.0.0.1:0',
      registry: metrics.registry,
      isReady: () => true,
      log,
    });
    expect(servers.metricsPort).toBe(servers.healthPort);
    expect((await get(servers.metricsPort, '/metrics')).body).toContain('schemaops_leader 0');
    expect(await get(servers.metricsPort, '/healthz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(servers.metricsPort, '/readyz')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('closes both servers so the ports stop answering', async () => {
    const started = await startHttpServers({
      metricsAddr: ':0',
      healthAddr: ':0',
      registry: createMetrics().registry,
      isReady: () => true,
      log,
    });
    await fetch(`http://127.0.0.1:${started.healthPort}/healthz`);
    await started.close();
    await expect(fetch(`http://127.0.0.1:${started.healthPort}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${started.metricsPort}/metrics`)).rejects.toThrow();
  });

  it('rejects a bad address with a message naming it, before listening', async () => {
    await expect(
      startHttpServers({
        metricsAddr: ':8o80',
        healthAddr: ':0',
        registry: createMetrics().registry,
        isReady: () => true,
        log,
      }),
    ).rejects.toThrow('":8o80"');
  });
});

describe('parseListenAddress', () => {
  it('reads the host and port forms Go operators use', () => {
    expect(parseListenAddress(':8080')).toEqual({ host: '', port: 8080 });
    expect(parseListenAddress('127.0.0.1:8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseListenAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListenAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseListenAddress('0')).toEqual({ host: '', port: 0 });
  });

  it.each(['', ':', ':http', ':65536', '127.0.0.1:', 'bad host:80', '::1:80', ':-1'])(
    'rejects %j naming the value',
    (value) => {
      expect(() => parseListenAddress(value)).toThrow(JSON.stringify(value));
    },
  );
});
