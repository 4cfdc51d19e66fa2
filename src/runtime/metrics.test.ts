import { describe, expect, it } from '@jest/globals';
import { register } from 'prom-client';
import { createMetrics } from './metrics.js';

describe('operator metrics', () => {
  it('exposes reconciles by result and their duration', async () => {
    const metrics = createMetrics();
    metrics.reconciled('success', 0.2);
    metrics.reconciled('success', 0.3);
    metrics.reconciled('error', 1.5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_reconciles_total{result="success"} 2');
    expect(text).toContain('schemaops_reconciles_total{result="error"} 1');
    expect(text).toContain('schemaops_reconciles_total{result="requeue"} 0');
    expect(text).toContain('schemaops_reconcile_duration_seconds_count 3');
    expect(text).toMatch(/schemaops_reconcile_duration_seconds_sum 2(\.0+\d*)?\n/);
  });

  it('counts applied and rolled-back migrations by the number run, and times each run', async () => {
    const metrics = createMetrics();
    metrics.migrated('Up', 3, 4.5);
    metrics.migrated('Down', 2, 1);
    const text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_migrations_applied_total 3');
    expect(text).toContain('schemaops_migrations_rolled_back_total 2');
    expect(text).toContain('schemaops_migration_duration_seconds_count{direction="Up"} 1');
    expect(text).toContain('schemaops_migration_duration_seconds_sum{direction="Up"} 4.5');
    expect(text).toContain('schemaops_migration_duration_seconds_count{direction="Down"} 1');
  });

  it('records backup time and workload downtime with buckets up to hours', async () => {
    const metrics = createMetrics();
    metrics.backedUp(12);
    metrics.downtime(5400);
    const text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_backup_duration_seconds_count 1');
    expect(text).toContain('schemaops_backup_duration_seconds_sum 12');
    expect(text).toContain('schemaops_workload_downtime_seconds_bucket{le="3600"} 0');
    expect(text).toContain('schemaops_workload_downtime_seconds_bucket{le="7200"} 1');
    expect(text).toContain('schemaops_workload_downtime_seconds_sum 5400');
  });

  it('reports the queue depth and whether this instance leads', async () => {
    const metrics = createMetrics();
    expect(await metrics.registry.metrics()).toContain('schemaops_leader 0');
    metrics.queueDepth(7);
    metrics.leader(true);
    let text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_queue_depth 7');
    expect(text).toContain('schemaops_leader 1');
    metrics.leader(false);
    text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_leader 0');
  });

  it('counts ended runs by outcome and refusals by reason, from zero', async () => {
    const metrics = createMetrics();
    let text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_runs_total{outcome="Succeeded"} 0');
    expect(text).toContain('schemaops_runs_total{outcome="Failed"} 0');
    metrics.runEnded('Failed');
    metrics.runEnded('Succeeded');
    metrics.runEnded('Failed');
    metrics.refused('UnknownTarget');
    text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_runs_total{outcome="Failed"} 2');
    expect(text).toContain('schemaops_runs_total{outcome="Succeeded"} 1');
    expect(text).toContain('schemaops_refusals_total{reason="UnknownTarget"} 1');
  });

  it('records downtime at sub-second buckets beside the older whole-second histogram', async () => {
    const metrics = createMetrics();
    metrics.downtime(0.3);
    const text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_downtime_seconds_bucket{le="0.25"} 0');
    expect(text).toContain('schemaops_downtime_seconds_bucket{le="0.5"} 1');
    expect(text).toContain('schemaops_downtime_seconds_bucket{le="1800"} 1');
    expect(text).toContain('schemaops_downtime_seconds_sum 0.3');
    expect(text).toContain('schemaops_workload_downtime_seconds_bucket{le="1"} 1');
  });

  it('times each step by name', async () => {
    const metrics = createMetrics();
    metrics.stepFinished('scaleDown', 0.4);
    metrics.stepFinished('restoreWorkload', 2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_step_duration_seconds_count{step="scaleDown"} 1');
    expect(text).toContain('schemaops_step_duration_seconds_sum{step="restoreWorkload"} 2');
    expect(text).toContain('schemaops_step_duration_seconds_count{step="migrate"} 0');
  });

  it('keeps one stalled series per object, following its reason, and none when it is not stalled', async () => {
    const metrics = createMetrics();
    const orders = { namespace: 'shop', name: 'orders' };
    metrics.stalled(orders, 'UnknownTarget');
    metrics.stalled({ namespace: 'shop', name: 'billing' }, 'InvalidSpec');
    metrics.stalled(orders, 'DataLossNotAllowed');
    let text = await metrics.registry.metrics();
    expect(text).toContain('schemaops_stalled{namespace="shop",name="orders",reason="DataLossNotAllowed"} 1');
    expect(text).not.toContain('reason="UnknownTarget"');
    metrics.stalled(orders, undefined);
    text = await metrics.registry.metrics();
    expect(text).not.toContain('name="orders"');
    expect(text).toContain('schemaops_stalled{namespace="shop",name="billing",reason="InvalidSpec"} 1');
    metrics.forget();
    expect(await metrics.registry.metrics()).not.toContain('name="billing"');
  });

  it('shows a workload held at 0 until it is released or the object is forgotten', async () => {
    const metrics = createMetrics();
    const orders = { namespace: 'shop', name: 'orders' };
    metrics.workloadScaledDown(orders, true);
    expect(await metrics.registry.metrics()).toContain(
      'schemaops_workload_scaled_down{namespace="shop",name="orders"} 1',
    );
    metrics.workloadScaledDown(orders, false);
    expect(await metrics.registry.metrics()).not.toContain('schemaops_workload_scaled_down{');
    metrics.workloadScaledDown(orders, true);
    metrics.forget(orders);
    expect(await metrics.registry.metrics()).not.toContain('schemaops_workload_scaled_down{');
  });

  it("includes Node's default metrics on its own registry, not the global one", async () => {
    const first = createMetrics();
    const second = createMetrics();
    first.queueDepth(1);
    const text = await first.registry.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(await second.registry.metrics()).toContain('schemaops_queue_depth 0');
    expect(await register.metrics()).not.toContain('schemaops_');
  });
});
