import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseDuration } from './duration.js';

/** Where each setting comes from: its flag and its environment variable, named in every error. */
export const SETTINGS = {
  kubeconfig: { flag: '--kubeconfig', env: 'KUBECONFIG' },
  namespaces: { flag: '--namespaces', env: 'SCHEMAOPS_NAMESPACES' },
  maxConcurrentReconciles: {
    flag: '--max-concurrent-reconciles',
    env: 'SCHEMAOPS_MAX_CONCURRENT_RECONCILES',
  },
  metricsAddr: { flag: '--metrics-addr', env: 'SCHEMAOPS_METRICS_ADDR' },
  healthAddr: { flag: '--health-addr', env: 'SCHEMAOPS_HEALTH_ADDR' },
  leaderElect: { flag: '--leader-elect', env: 'SCHEMAOPS_LEADER_ELECT' },
  leaseName: { flag: '--lease-name', env: 'SCHEMAOPS_LEASE_NAME' },
  leaseNamespace: { flag: '--lease-namespace', env: 'SCHEMAOPS_LEASE_NAMESPACE' },
  leaseDuration: { flag: '--lease-duration', env: 'SCHEMAOPS_LEASE_DURATION' },
  renewDeadline: { flag: '--renew-deadline', env: 'SCHEMAOPS_RENEW_DEADLINE' },
  retryPeriod: { flag: '--retry-period', env: 'SCHEMAOPS_RETRY_PERIOD' },
  resyncPeriod: { flag: '--resync-period', env: 'SCHEMAOPS_RESYNC_PERIOD' },
  watchIdleTimeout: { flag: '--watch-idle-timeout', env: 'SCHEMAOPS_WATCH_IDLE_TIMEOUT' },
  logLevel: { flag: '--log-level', env: 'SCHEMAOPS_LOG_LEVEL' },
} as const;
export type SettingName = keyof typeof SETTINGS;

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const listenAddress = z
  .string()
  .regex(/^([A-Za-z0-9.-]*|\[[0-9a-fA-F:]+\]):\d{1,5}$/, 'must be [host]:port, such as :8080');
const duration = z.string().transform((text, ctx) => {
  try {
    const ms = parseDuration(text);
    if (ms > 0) return ms;
    ctx.addIssue({ code: 'custom', message: 'must be longer than 0' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
  return z.NEVER;
});
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

const rawSchema = z.object({
  kubeconfig: z.string().min(1).optional(),
  namespaces: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(dnsLabel, 'each namespace must be a DNS label'))),
  maxConcurrentReconciles: z.coerce.number().int().min(1).max(64).default(4),
  metricsAddr: listenAddress.default(':8080'),
  healthAddr: listenAddress.default(':8081'),
  leaderElect: bool.optional(),
  leaseName: z.string().regex(dnsLabel).default('schemaops-leader'),
  leaseNamespace: z.string().regex(dnsLabel).optional(),
  leaseDuration: duration.default(15_000),
  renewDeadline: duration.default(10_000),
  retryPeriod: duration.default(2_000),
  resyncPeriod: duration.default(600_000),
  watchIdleTimeout: duration.default(300_000),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});

export type OperatorConfig = z.output<typeof rawSchema> & {
  readonly leaderElect: boolean;
  readonly leaseNamespace: string;
  readonly identity: string;
};

/** A bad setting: the message names the flag (and its variable). */
export class ConfigError extends Error {}

const inCluster = (env: NodeJS.ProcessEnv) => Boolean(env.KUBERNETES_SERVICE_HOST);

/** The service account's namespace when in a cluster, else `default`. */
function ownNamespace(env: NodeJS.ProcessEnv): string {
  return env.POD_NAMESPACE ?? 'default';
}

/**
 * Builds the configuration from flags (already parsed to strings) and the environment: a flag wins over its
 * variable. Leader election is on by default in a cluster and off elsewhere.
 */
export function loadConfig(
  flags: Partial<Record<SettingName, string>>,
  env: NodeJS.ProcessEnv = process.env,
): OperatorConfig {
  const raw: Record<string, string> = {};
  for (const [name, source] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const value = flags[name] ?? env[source.env];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const parsed = rawSchema.safeParse(raw);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]) as SettingName;
      const source = SETTINGS[name];
      return `${source.flag} (${source.env}) ${JSON.stringify(raw[name] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(messages.join('\n'));
  }
  const config = parsed.data;
  if (config.renewDeadline >= config.leaseDuration) {
    throw new ConfigError(
      `${SETTINGS.renewDeadline.flag} must be shorter than ${SETTINGS.leaseDuration.flag}`,
    );
  }
  return {
    ...config,
    leaderElect: config.leaderElect ?? inCluster(env),
    leaseNamespace: config.leaseNamespace ?? ownNamespace(env),
    identity: `${hostname()}-${randomBytes(3).toString('hex')}`,
  };
}
