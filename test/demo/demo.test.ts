import { describe, expect, it } from '@jest/globals';
import { runDemo } from '../../src/demo/demo.js';

describe('schemaops demo', () => {
  it('migrates the sample app, rolls it back with kubectl patch, and shows each step', async () => {
    const lines: string[] = [];
    await runDemo({ wait: false, write: (line) => lines.push(line) });
    const output = lines.join('\n');
    // The demo follows the resource with a watch: every phase written is shown, in order, once per run.
    const phases = [...output.matchAll(/phase=(\w+)/g)].map((m) => m[1]);
    const run = ['ScalingDown', 'BackingUp', 'Migrating', 'RestoringWorkload', 'Ready'];
    expect(phases.filter((p, i) => p !== phases[i - 1])).toEqual(['Pending', ...run, ...run]);
    expect(output).toContain('database at 1732200000000_add-orders-index');
    expect(output).toContain('kubectl patch smig orders --type merge');
    expect(output).toContain('database at 1732150000000_create-orders');
    expect(output).toMatch(/replicas=0\/0/);
    expect(output).toMatch(
      /backups on the PVC \(a local directory\): orders-\d{8}T\d{6}Z\.dump, orders-\d{8}T\d{6}Z\.dump/,
    );
    expect(output).toContain('kubectl get smig -w');
    expect(output).not.toMatch(/postgres:\/\/[^\s]*@/);
  }, 120_000);
});
