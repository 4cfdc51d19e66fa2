import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has defaults a production operator expects', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({
      namespaces: [],
      maxConcurrentReconciles: 4,
      metricsAddr: ':8080',
      healthAddr: ':8081',
      leaderElect: false,
      leaseDuration: 15_000,
      renewDeadline: 10_000,
      retryPeriod: 2_000,
      resyncPeriod: 600_000,
      logLevel: 'info',
    });
    expect(loadConfig({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', POD_NAMESPACE: 'ops' })).toMatchObject({
      leaderElect: true,
      leaseNamespace: 'ops',
    });
  });

  it('takes the environment, and a flag over its variable', () => {
    const env = { SCHEMAOPS_NAMESPACES: 'shop, billing', SCHEMAOPS_MAX_CONCURRENT_RECONCILES: '8' };
    expect(loadConfig({}, env)).toMatchObject({
      namespaces: ['shop', 'billing'],
      maxConcurrentReconciles: 8,
    });
    expect(loadConfig({ maxConcurrentReconciles: '2' }, env).maxConcurrentReconciles).toBe(2);
  });

  it.each([
    [{ maxConcurrentReconciles: '0' }, '--max-concurrent-reconciles'],
    [{ metricsAddr: 'eight' }, '--metrics-addr'],
    [{ namespaces: 'Shop' }, '--namespaces'],
    [{ resyncPeriod: 'soon' }, '--resync-period'],
    [{ leaderElect: 'yes' }, '--leader-elect'],
    [{ logLevel: 'loud' }, '--log-level'],
    [{ renewDeadline: '20s' }, '--renew-deadline'],
  ])('refuses %j naming the flag', (flags, flag) => {
    expect(() => loadConfig(flags, {})).toThrow(ConfigError);
    expect(() => loadConfig(flags, {})).toThrow(flag);
  });
});
