import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { kustomize } from '../support/kustomize.js';
import { kind } from './targets.js';

type Manifest = { kind: string; metadata: { name: string; namespace?: string } };

const rendered = kustomize<Manifest>('test/e2e/kind');
const find = <T>(type: string, name: string, namespace?: string) =>
  rendered.find((m) => m.kind === type && m.metadata.name === name && m.metadata.namespace === namespace) as
    T | undefined;

// The kind run cannot happen without Docker; these keep its manifests, script and test code in agreement.
describe('the kind e2e manifests', () => {
  it('install the operator from config/default with the image the script loads', () => {
    const operator = find<V1Deployment>('Deployment', kind.operatorDeployment, kind.operatorNamespace);
    const container = operator?.spec?.template.spec?.containers[0];
    expect(container?.image).toBe(kind.image);
    // A loaded image is never pulled: not `latest`, no Always policy.
    expect(container?.imagePullPolicy ?? 'IfNotPresent').toBe('IfNotPresent');
    const script = readFileSync(fileURLToPath(new URL('../../scripts/e2e-kind.sh', import.meta.url)), 'utf8');
    expect(script).toContain(`image="${kind.image}"`);
  });

  it('run PostgreSQL behind the Service the test port-forwards to, with the password Secret the test makes', () => {
    const service = find<V1Service>('Service', kind.postgresService, kind.postgresNamespace);
    expect(service?.spec?.ports?.[0]).toMatchObject({ port: 5432, targetPort: 'postgres' });
    const postgres = find<V1Deployment>('Deployment', kind.postgresService, kind.postgresNamespace);
    const labels = postgres?.spec?.template.metadata?.labels ?? {};
    for (const [key, value] of Object.entries(service?.spec?.selector ?? {})) expect(labels[key]).toBe(value);
    const container = postgres?.spec?.template.spec?.containers[0];
    expect(container?.ports?.[0]).toMatchObject({ name: 'postgres', containerPort: 5432 });
    expect(container?.env?.find((e) => e.name === 'POSTGRES_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: kind.adminSecret,
      key: 'password',
    });
    expect(find('Namespace', kind.postgresNamespace)).toBeDefined();
  });

  it('make a one-node cluster on a node image pinned by digest', () => {
    const config = parse(
      readFileSync(fileURLToPath(new URL('./kind/cluster.yaml', import.meta.url)), 'utf8'),
    ) as { kind: string; apiVersion: string; nodes: { role: string; image: string }[] };
    expect(config).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    expect(config.nodes).toHaveLength(1);
    expect(config.nodes[0]?.image).toMatch(/^kindest\/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  });
});
