import { describe, expect, it } from '@jest/globals';
import type { StoredSchemaMigration } from '../kube/types.js';
import { planConfigMapName } from './plan-sql.js';
import { readinessOf } from './readiness.js';
import { humanBytes, render, table } from './view.js';

const at = '2026-11-27T12:00:00Z';
function object(
  generation: number,
  conditions: [string, 'True' | 'False', string, number][],
): StoredSchemaMigration {
  return {
    apiVersion: 'schemaops.dev/v1alpha1',
    kind: 'SchemaMigration',
    metadata: { name: 'orders', namespace: 'shop', uid: 'u', resourceVersion: '1', generation },
    spec: {},
    status: {
      conditions: conditions.map(([type, status, reason, observedGeneration]) => ({
        type,
        status,
        reason,
        message: `${reason} message`,
        observedGeneration,
        lastTransitionTime: at,
      })),
    },
  };
}

describe('what the plugin prints', () => {
  it('sizes in binary units, one decimal below 10', () => {
    expect([0, 1023, 1024, 1536, 10 * 1024 + 600, 5 * 1024 ** 2, 3.25 * 1024 ** 3].map(humanBytes)).toEqual([
      '0 B',
      '1023 B',
      '1 KiB',
      '1.5 KiB',
      '11 KiB',
      '5 MiB',
      '3.3 GiB',
    ]);
  });

  it('aligns columns three spaces apart, without trailing spaces', () => {
    expect(
      table(
        ['A', 'LONGER'],
        [
          ['wide value', 'x'],
          ['y', ''],
        ],
      ),
    ).toBe('A            LONGER\nwide value   x\ny');
  });

  it('renders JSON as kubectl does and YAML as a document', () => {
    expect(render({ a: [1] }, 'json')).toBe('{\n    "a": [\n        1\n    ]\n}');
    expect(render({ a: [1] }, 'yaml')).toBe('a:\n  - 1');
  });
});

describe('readiness for the current generation', () => {
  it('is stalled before ready, and ignores conditions of an older generation', () => {
    expect(readinessOf(object(2, [['Stalled', 'True', 'DataLossNotAllowed', 2]]))).toEqual({
      kind: 'stalled',
      reason: 'DataLossNotAllowed',
      message: 'DataLossNotAllowed message',
    });
    expect(readinessOf(object(3, [['Stalled', 'True', 'DataLossNotAllowed', 2]]))).toEqual({
      kind: 'unobserved',
    });
    expect(readinessOf(object(3, [['Ready', 'True', 'AtTargetRevision', 2]]))).toEqual({
      kind: 'unobserved',
    });
    expect(readinessOf(object(3, [['Ready', 'True', 'AtTargetRevision', 3]]))).toEqual({ kind: 'ready' });
    expect(
      readinessOf(
        object(3, [
          ['Ready', 'False', 'Migrating', 3],
          ['Reconciling', 'True', 'Migrating', 3],
        ]),
      ),
    ).toEqual({ kind: 'progressing', reason: 'Migrating', message: 'Migrating message' });
  });
});

describe('the plan ConfigMap name', () => {
  it('is the one the operator writes, long names included', async () => {
    const { planConfigMapName: operators } = await import('../controller/plan-record.js');
    for (const name of ['orders', 'o'.repeat(253)]) expect(planConfigMapName(name)).toBe(operators(name));
  });
});
