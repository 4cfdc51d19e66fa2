import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import {
  CHART,
  findHelm,
  helmEnv,
  NAMESPACE,
  RELEASE,
  root,
  scenarios,
  setFlags,
  type KubeObject,
} from './helm.js';

// The chart's PrometheusRule and Grafana dashboard. The Prometheus Operator's CRDs are not on the local
// cluster, so the rule's content is checked by Prometheus's own promtool (Debian's prometheus package):
// `check rules` for its syntax, `test rules` for when each alert fires on given series.

type MetricType = 'Counter' | 'Gauge' | 'Histogram';

/** Series being added to the operator beside the ones in src/runtime/metrics.ts; the rules and dashboard use them. */
const upcomingMetrics: Readonly<Record<string, MetricType>> = {
  schemaops_runs_total: 'Counter',
  schemaops_refusals_total: 'Counter',
  schemaops_downtime_seconds: 'Histogram',
  schemaops_step_duration_seconds: 'Histogram',
  schemaops_stalled: 'Gauge',
  schemaops_workload_scaled_down: 'Gauge',
};

/** The metrics the operator registers, read from src/runtime/metrics.ts, with the upcoming ones. */
function knownMetrics(): Map<string, MetricType> {
  const source = readFileSync(join(root, 'src/runtime/metrics.ts'), 'utf8');
  const declared = [...source.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '(schemaops_\w+)'/g)];
  const known = new Map(declared.map((m) => [m[2]!, m[1] as MetricType]));
  for (const [name, type] of Object.entries(upcomingMetrics)) if (!known.has(name)) known.set(name, type);
  return known;
}

/** The schemaops series an expression reads that the operator does not export (a histogram only by its parts). */
function unknownSeries(expr: string, known: Map<string, MetricType>): string[] {
  return [...expr.matchAll(/\bschemaops_\w+/g)]
    .map((m) => m[0])
    .filter((series) => {
      const part = /^(.+)_(bucket|sum|count)$/.exec(series);
      if (part && known.get(part[1]!) === 'Histogram') return false;
      return known.get(series) === undefined || known.get(series) === 'Histogram';
    });
}

let dir = '';

function run(command: string, args: string[], env?: NodeJS.ProcessEnv) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

function renderMonitoring(): KubeObject[] {
  const args = ['template', RELEASE, CHART, '-n', NAMESPACE, ...setFlags(scenarios.monitoring)];
  const result = spawnSync(findHelm(), args, { encoding: 'utf8', env: helmEnv(dir) });
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
let groups: { name: string; rules: Rule[] }[] = [];
let rulesFile = '';
let panels: { title: string; type: string; targets?: { expr: string }[] }[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'schemaops-monitoring-'));
  const objects = renderMonitoring();
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  if (rule === undefined) throw new Error('no PrometheusRule rendered');
  groups = (rule.spec as { groups: typeof groups }).groups;
  rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, stringify({ groups }));
  const dashboard = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'));
  const json = (dashboard as { data?: Record<string, string> } | undefined)?.data?.['schemaops.json'];
  if (json === undefined) throw new Error('no dashboard ConfigMap rendered');
  panels = (JSON.parse(json) as { panels: typeof panels }).panels;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the chart's PrometheusRule", () => {
  it('passes promtool check rules', () => {
    const checked = run('promtool', ['check', 'rules', rulesFile]);
    expect(checked.output).toContain('SUCCESS: 4 rules found');
    expect(checked.status).toBe(0);
  });

  it('is refused by promtool when an expression is broken, so the check above means something', () => {
    const broken = join(dir, 'broken.yaml');
    const rules = structuredClone(groups);
    rules[0]!.rules[0]!.expr = 'sum(increase(schemaops_runs_total[15m]) > 0';
    writeFileSync(broken, stringify({ groups: rules }));
    const checked = run('promtool', ['check', 'rules', broken]);
    expect(checked.status).not.toBe(0);
    expect(checked.output).toMatch(/parse error|unclosed/i);
  });

  it('reads only metrics the operator exports', () => {
    const known = knownMetrics();
    expect(known.get('schemaops_leader')).toBe('Gauge');
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'SchemaOpsRunFailed',
      'SchemaOpsStalled',
      'SchemaOpsWorkloadScaledDown',
      'SchemaOpsNoLeader',
    ]);
    expect(rules.flatMap((r) => unknownSeries(r.expr, known))).toEqual([]);
    expect(unknownSeries('schemaops_stalld == 1 or schemaops_downtime_seconds > 1', known)).toEqual([
      'schemaops_stalld',
      'schemaops_downtime_seconds',
    ]);
  });

  it('fires each alert when its series say so, and not before (promtool test rules)', () => {
    const alert = (labels: Record<string, string>, description: string, summary: string) => ({
      exp_labels: { team: 'platform', ...labels },
      exp_annotations: { summary, description },
    });
    const stalled = {
      namespace: 'shop',
      name: 'orders',
      reason: 'MigrationFailed',
    };
    const failedDescription =
      'A run failed in the last 15 minutes and policy.onFailure was applied. `kubectl get smig -A` shows it ' +
      'in phase Failed; its Stalled condition says why, and SchemaOpsStalled follows if nobody acts.';
    const tests = {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // A counter that was there, then counts a failure at minute 5.
            { series: 'schemaops_runs_total{outcome="Failed",pod="a"}', values: '0x4 1x40' },
            // stalledFor is 30m in these values.
            {
              series: 'schemaops_stalled{namespace="shop",name="orders",reason="MigrationFailed"}',
              values: '1x40',
            },
            {
              series: 'schemaops_stalled{namespace="shop",name="users",reason="ChecksumDrift"}',
              values: '0x40',
            },
            { series: 'schemaops_workload_scaled_down{namespace="shop",name="orders"}', values: '1x80' },
            { series: 'schemaops_leader{pod="a"}', values: '1x15 0x30' },
          ],
          alert_rule_test: [
            { eval_time: '3m', alertname: 'SchemaOpsRunFailed', exp_alerts: [] },
            {
              eval_time: '6m',
              alertname: 'SchemaOpsRunFailed',
              exp_alerts: [
                alert({ severity: 'warning' }, failedDescription, 'A schema migration run failed.'),
              ],
            },
            { eval_time: '25m', alertname: 'SchemaOpsRunFailed', exp_alerts: [] },
            { eval_time: '29m', alertname: 'SchemaOpsStalled', exp_alerts: [] },
            {
              eval_time: '31m',
              alertname: 'SchemaOpsStalled',
              exp_alerts: [
                alert(
                  { severity: 'warning', ...stalled },
                  'SchemaMigration shop/orders has been Stalled (MigrationFailed) for more than 30m: nothing more ' +
                    'happens until its spec changes or it is retried. `kubectl -n shop describe smig orders` shows ' +
                    'the condition and the Events.',
                  'A SchemaMigration needs a human.',
                ),
              ],
            },
            { eval_time: '69m', alertname: 'SchemaOpsWorkloadScaledDown', exp_alerts: [] },
            {
              eval_time: '71m',
              alertname: 'SchemaOpsWorkloadScaledDown',
              exp_alerts: [
                alert(
                  { severity: 'critical', namespace: 'shop', name: 'orders' },
                  'The run of SchemaMigration shop/orders has kept its workload at 0 replicas for more than 70m, ' +
                    'longer than its timeouts allow: the application is down. docs/runbook.md says what to do.',
                  'A migration run has held its workload at 0 replicas for too long.',
                ),
              ],
            },
            { eval_time: '24m', alertname: 'SchemaOpsNoLeader', exp_alerts: [] },
            {
              eval_time: '27m',
              alertname: 'SchemaOpsNoLeader',
              exp_alerts: [
                alert(
                  { severity: 'warning' },
                  'For 10m no operator instance has been the leader (or none was scraped): no SchemaMigration is ' +
                    "reconciled. Check the operator's Deployment and logs.",
                  'No schemaops operator holds the leader Lease.',
                ),
              ],
            },
          ],
        },
        {
          // A new pod whose failure counter first appears at 1: increase() alone would miss it.
          interval: '1m',
          input_series: [{ series: 'schemaops_runs_total{outcome="Failed",pod="b"}', values: '_x4 1x20' }],
          alert_rule_test: [
            {
              eval_time: '6m',
              alertname: 'SchemaOpsRunFailed',
              exp_alerts: [
                alert({ severity: 'warning' }, failedDescription, 'A schema migration run failed.'),
              ],
            },
          ],
        },
      ],
    };
    const testFile = join(dir, 'rules.test.yaml');
    writeFileSync(testFile, stringify(tests));
    const tested = run('promtool', ['test', 'rules', testFile]);
    expect(tested.output).toContain('SUCCESS');
    expect(tested.status).toBe(0);
  });
});

describe("the chart's Grafana dashboard", () => {
  it('has panels whose every expression reads metrics the operator exports', () => {
    const known = knownMetrics();
    const queried = panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(8);
    const problems = queried.flatMap((panel) => {
      const targets = panel.targets ?? [];
      if (targets.length === 0) return [`${panel.title}: no query`];
      return targets.flatMap((t) => {
        const read = [...t.expr.matchAll(/\bschemaops_\w+/g)];
        if (read.length === 0) return [`${panel.title}: reads no schemaops metric`];
        return unknownSeries(t.expr, known).map((series) => `${panel.title}: ${series}`);
      });
    });
    expect(problems).toEqual([]);
    const read = new Set(
      queried.flatMap((p) => (p.targets ?? []).flatMap((t) => t.expr.match(/\bschemaops_\w+/g) ?? [])),
    );
    for (const name of Object.keys(upcomingMetrics))
      expect([...read].some((series) => series === name || series.startsWith(`${name}_`))).toBe(true);
  });
});
