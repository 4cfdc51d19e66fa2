import { describe, expect, it } from '@jest/globals';
import { MigrationErrorCode } from '../../migrations/errors.js';
import { ConditionType, Reason } from './conditions.js';
import { Annotation, FINALIZER, Label, PREFIX } from './keys.js';
import { Phase } from './phases.js';

describe('condition types, reasons and phases', () => {
  it('are CamelCase and each named after its value', () => {
    for (const table of [ConditionType, Reason, Phase]) {
      for (const [name, value] of Object.entries(table)) {
        expect(value).toBe(name);
        expect(value).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      }
    }
  });

  it('include every code the migration engine reports', () => {
    const reasons: string[] = Object.values(Reason);
    for (const code of Object.values(MigrationErrorCode)) expect(reasons).toContain(code);
  });

  it('share one prefix for annotations, our labels and the finalizer', () => {
    expect(PREFIX).toBe('schemaops.dev/');
    expect(Object.values(Annotation).every((key) => key.startsWith(PREFIX))).toBe(true);
    expect([Label.migration, Label.planHash].every((key) => key.startsWith(PREFIX))).toBe(true);
    expect(FINALIZER).toBe('schemaops.dev/finalizer');
    expect(Annotation).toEqual({
      approve: 'schemaops.dev/approve',
      restore: 'schemaops.dev/restore',
      retry: 'schemaops.dev/retry',
      originalReplicas: 'schemaops.dev/original-replicas',
    });
  });
});
