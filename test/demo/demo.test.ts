import { describe, expect, it } from '@jest/globals';
import { runDemo } from '../../src/demo/demo.js';

describe('schemaops demo', () => {
  it('migrates the sample app, rolls it back with kubectl patch keeping its rows, refuses a lossy rollback, and shows each step and the Events', async () => {
    const lines: string[] = [];
    await runDemo({ wait: false, write: (line) => lines.push(line) });
    const output = lines.join('\n');
    // The demo follows the resource with a watch: every phase written is shown, in order, once per run.
    const phases = [...output.matchAll(/phase=(\w+)/g)].map((m) => m[1]);
    // The whole database is backed up before the scale-down, the touched tables after it.
    const run = ['BackingUp', 'ScalingDown', 'BackingUp', 'Migrating', 'RestoringWorkload', 'Ready'];
    expect(phases.filter((p, i) => p !== phases[i - 1])).toEqual(['Pending', ...run, ...run]);
    expect(output).toContain('database at 1732200000000_add-orders-index');
    expect(output).toContain('kubectl patch smig orders --type merge');
    expect(output).toContain('database at 1732150000000_create-orders');
    expect(output).toMatch(/replicas=0\/0/);
    expect(output).toMatch(
      /backups on the PVC \(a local directory\): orders-\d{8}T\d{6}Z\.dump, orders-\d{8}T\d{6}Z\.dump/,
    );
    expect(output).toContain('kubectl get smig -w');
    // The demonstrated rollback drops an index: it needs no allowDataLoss and keeps the order taken before it.
    const rollback = lines.find((line) => line.includes('"targetRevision":"1732150000000_create-orders"'));
    expect(rollback).toBeDefined();
    expect(rollback).not.toContain('allowDataLoss');
    expect(output).toContain('rows kept: 1 customer, 1 order');
    // Going to base would drop the tables with their rows: refused before anything is touched.
    expect(output).toMatch(/refused, nothing touched: DataLossNotAllowed: [^$]*DROP TABLE orders \(1 row\)/);
    expect(output).toContain('database still at 1732150000000_create-orders');
    // The Events, as kubectl describe prints them: the steps of both runs and the refusal.
    const events = output.slice(output.indexOf('$ kubectl describe smig orders'));
    expect(events).toMatch(/^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message/m);
    for (const reason of ['ScalingDown', 'BackupSucceeded', 'Migrated', 'RolledBack', 'WorkloadRestored'])
      expect(events).toMatch(new RegExp(`Normal\\s+${reason}\\s`));
    expect(events).toMatch(/Warning\s+DataLossNotAllowed\s/);
    expect(output).not.toMatch(/postgres:\/\/[^\s]*@/);
  }, 120_000);
});
