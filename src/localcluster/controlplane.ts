import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './postgres.js';
import { ComponentProcess, findBinary, logTail } from './process.js';

/**
 * The controllers kube-controller-manager runs here: what Deployments, StatefulSets, Jobs, namespaces,
 * ServiceAccounts and PersistentVolumeClaims need. No node lifecycle (the local kubelet keeps its Node Ready).
 */
export const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'job-controller',
  'garbage-collector-controller',
  'ttl-after-finished-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'persistentvolume-binder-controller',
  // The built-in view, edit and admin ClusterRoles take in aggregated roles (the chart's) through this one.
  'clusterrole-aggregation-controller',
];

/** The user every component and the admin kubeconfig authenticate as (group system:masters). */
export const ADMIN_USER = 'schemaops-admin';

export interface ControlPlaneFiles {
  readonly dir: string;
  /** The serving certificate chain kube-apiserver generated; its CA is what clients trust. */
  readonly caFile: string;
  readonly serviceAccountKey: string;
  readonly tokenFile: string;
  readonly adminToken: string;
}

/** ServiceAccount signing key and the static admin token; kube-apiserver makes its own serving certificate. */
export function writeControlPlaneFiles(dir: string): ControlPlaneFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const serviceAccountKey = join(dir, 'sa.key');
  writeFileSync(serviceAccountKey, privateKey, { mode: 0o600 });
  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(tokenFile, `${adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
  return { dir, caFile: join(dir, 'apiserver.crt'), serviceAccountKey, tokenFile, adminToken };
}

export interface Endpoint {
  readonly url: string;
  readonly port: number;
}

export async function etcdArgs(dataDir: string): Promise<{ args: string[]; client: Endpoint }> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return {
    client: { url: client, port: clientPort },
    args: [
      '--name=local',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=local=${peer}`,
      '--unsafe-no-fsync=true', // a throwaway store: durability buys nothing, fsync costs seconds
      '--log-level=warn',
    ],
  };
}

export function apiServerArgs(options: {
  etcd: string;
  port: number;
  files: ControlPlaneFiles;
  extraArgs?: readonly string[];
}): string[] {
  const { files } = options;
  return [
    `--etcd-servers=${options.etcd}`,
    `--cert-dir=${files.dir}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    '--endpoint-reconciler-type=none', // the loopback address cannot back the kubernetes Service
    `--secure-port=${options.port}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    `--token-auth-file=${files.tokenFile}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${files.serviceAccountKey}`,
    `--service-account-signing-key-file=${files.serviceAccountKey}`,
    '--allow-privileged=true',
    '--profiling=false',
    // Priority and fairness answers 429 until its configuration settles after start; one user needs no fairness.
    '--enable-priority-and-fairness=false',
    ...(options.extraArgs ?? []),
  ];
}

export function controllerManagerArgs(kubeconfig: string, files: ControlPlaneFiles): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--controllers=${CONTROLLERS.join(',')}`,
    `--service-account-private-key-file=${files.serviceAccountKey}`,
    `--root-ca-file=${files.caFile}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    '--profiling=false',
  ];
}

export function schedulerArgs(kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    '--profiling=false',
  ];
}

/** One GET with the admin token; resolves with the status and body, or undefined while nothing answers. */
export function adminGet(
  url: string,
  files: ControlPlaneFiles,
  path: string,
): Promise<{ status: number; body: string } | undefined> {
  let ca: Buffer | undefined;
  try {
    ca = readFileSync(files.caFile);
  } catch {
    return Promise.resolve(undefined); // kube-apiserver has not written its certificate yet
  }
  return new Promise((resolve) => {
    const req = request(
      `${url}${path}`,
      { ca, headers: { Authorization: `Bearer ${files.adminToken}` }, timeout: 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Polls until `ready` says yes, failing early when the component exits and at the deadline with its log. */
export async function waitUntilReady(
  component: ComponentProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (!(await ready())) {
    if (!component.running || Date.now() > deadline) {
      const why = component.running ? `not ready after ${timeoutMs / 1000} s` : 'exited';
      throw new Error(`${component.name} ${why}; its log ends:\n${await logTail(component.logFile)}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}

export async function startEtcd(
  dataDir: string,
  logDir: string,
): Promise<{ etcd: ComponentProcess; url: string }> {
  const { args, client } = await etcdArgs(join(dataDir, 'etcd'));
  const etcd = new ComponentProcess('etcd', findBinary('etcd'), args, join(logDir, 'etcd.log'));
  await waitUntilReady(
    etcd,
    async () => {
      try {
        const res = await fetch(`${client.url}/health`, { signal: AbortSignal.timeout(2_000) });
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    },
    30_000,
  );
  return { etcd, url: client.url };
}
