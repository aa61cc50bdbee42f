import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARD = join(ROOT, 'deploy/grafana/bridge.json');
const ALERTS = join(ROOT, 'deploy/prometheus/alerts.yml');
const ALERT_TESTS = join(ROOT, 'deploy/prometheus/alerts.test.yml');
const PROMTOOL_TIMEOUT_MS = 30_000;

/** Why promtool cannot run here (Debian: prometheus), or null. */
function promtoolMissing(): string | null {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `promtool cannot run: ${probe.error.message} (Debian: apt-get install prometheus)`;
  return probe.status === 0 ? null : `promtool --version failed: ${probe.stderr.trim()}`;
}

const missing = promtoolMissing();
// Under CI a missing promtool fails the suite below; elsewhere the suite is skipped, loudly.
const skipped = missing !== null && !process.env.CI;
if (skipped) console.warn(`\n${'!'.repeat(80)}\nSKIPPING the promtool checks of the alert rules: ${missing}\n${'!'.repeat(80)}\n`);

// PromQL's functions and aggregations (Prometheus 2.x and 3.x): an identifier followed by `(` must be one of them.
const FUNCTIONS = new Set(
  `abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min
  cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv
  double_exponential_smoothing exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
  histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join label_replace
  last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
  present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
  sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector
  year`.split(/\s+/),
);
const AGGREGATIONS = new Set('avg bottomk count count_values group limit_ratio limitk max min quantile stddev stdvar sum topk'.split(' '));
/** Keywords whose parenthesised list holds label names, not series. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([...LABEL_LISTS, 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

/** Index just past the bracket that closes the one at `open`. */
function closing(tokens: string[], open: number): number {
  const pair: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
  const want = pair[tokens[open]!]!;
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i] === tokens[open]) depth++;
    else if (tokens[i] === want && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced ${tokens[open]}`);
}

/** The metric names a PromQL expression selects; throws on a call of something that is not a PromQL function. */
function metricNames(expr: string): string[] {
  // Strings (label values, regexes) and Grafana's variables may hold anything: they go first.
  const plain = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""').replace(/\$\{?\w+\}?/g, '');
  const tokens = plain.match(/\d[\w.]*(?:[eE][+-]?\d+)?|[A-Za-z_:][\w:]*|\S/g) ?? [];
  const names = new Set<string>();
  for (let i = 0; i < tokens.length; ) {
    const token = tokens[i]!;
    const next = tokens[i + 1];
    if (token === '{' || token === '[') {
      i = closing(tokens, i); // label matchers, or a range or subquery's durations
    } else if (!/^[A-Za-z_:]/.test(token)) {
      i++;
    } else if (LABEL_LISTS.has(token) && next === '(') {
      i = closing(tokens, i + 1);
    } else if (KEYWORDS.has(token.toLowerCase())) {
      i++;
    } else if (next === '(' || (AGGREGATIONS.has(token) && (next === 'by' || next === 'without'))) {
      if (!FUNCTIONS.has(token) && !AGGREGATIONS.has(token)) throw new Error(`${token}() is not a PromQL function, in: ${expr}`);
      i++;
    } else {
      names.add(token);
      i++;
    }
  }
  return [...names];
}

/**
 * Every name the /metrics of a bridge with Redis exposes, read from a real registry; plus `up`, which
 * Prometheus adds per target.
 */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new Metrics(() => 0);
  metrics.watchRedis(() => true);
  const names = new Set(['up']);
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    // prom-client's types declare a numeric enum here; the runtime value is the exposition type's name.
    const type = String(metric.type);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(metric.name + suffix);
    else names.add(metric.name);
  }
  return names;
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ refId?: string; expr?: string }>;
  panels?: Panel[];
}

interface Dashboard {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> };
}

/** Every panel, those inside rows included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

interface AlertRule {
  alert: string;
  expr: string;
  /** The rule's lines, `- alert:` to the next rule. */
  text: string;
}

/**
 * The alerting rules of a rule file, read without a YAML library: `expr:` as a plain or quoted scalar on its
 * line, or a `|`/`>` block under it. The count is checked against promtool's below, so a rule this misses fails.
 */
function alertRules(yaml: string): AlertRule[] {
  return yaml
    .split(/^\s*- alert:/m)
    .slice(1)
    .map((text) => {
      const lines = text.split('\n');
      const at = lines.findIndex((l) => /^\s*expr:/.test(l));
      if (at < 0) throw new Error(`no expr in rule ${lines[0]}`);
      const [, indent, value] = /^(\s*)expr:\s*(.*)$/.exec(lines[at]!)!;
      let expr = value!.trim();
      if (/^[|>]/.test(expr)) {
        const body: string[] = [];
        for (const line of lines.slice(at + 1)) {
          if (line.trim() !== '' && line.search(/\S/) <= indent!.length) break;
          body.push(line.trim());
        }
        expr = body.join(' ').trim();
      } else if (/^'.*'$/.test(expr)) {
        expr = expr.slice(1, -1).replace(/''/g, "'");
      } else if (/^".*"$/.test(expr)) {
        expr = JSON.parse(expr) as string;
      }
      return { alert: lines[0]!.trim(), expr, text };
    });
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const rules = alertRules(readFileSync(ALERTS, 'utf8'));
const dashboardExprs = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr ?? '' })));

describe('metricNames (PromQL)', () => {
  it('finds selected series, and not functions, keywords, label names, durations or numbers', () => {
    expect(metricNames('sum by (instance, le) (rate(a_bucket{instance=~"$instance", le!="+Inf"}[$__rate_interval])) * 60')).toEqual(['a_bucket']);
    expect(metricNames('histogram_quantile(0.99, sum(rate(b_bucket[5m])) by (le)) > bool 1e3')).toEqual(['b_bucket']);
    expect(metricNames('sum by (reason) (increase(c_total[10m])) > 0 or (c_total unless c_total offset 10m)')).toEqual(['c_total']);
    expect(metricNames('label_replace(up{job="x"}, "dst", "$1", "src", "(.*)") == 0')).toEqual(['up']);
    expect(metricNames('max_over_time(d[1h:5m]) / on (instance) group_left (version) e')).toEqual(['d', 'e']);
    expect(metricNames('job:requests:rate5m > Inf')).toEqual(['job:requests:rate5m']);
  });

  it('refuses a call of something that is not a PromQL function', () => {
    expect(() => metricNames('rat(a_total[5m])')).toThrow(/rat\(\) is not a PromQL function/);
  });
});

describe('the Grafana dashboard (deploy/grafana/bridge.json)', () => {
  let exported: Set<string>;
  beforeAll(async () => {
    exported = await exportedNames();
  });

  it('has a Prometheus data-source variable and an instance variable that every query filters on', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBeTruthy();
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.instance).toMatchObject({ type: 'query', definition: expect.stringContaining('label_values(') });
    for (const { title, expr } of dashboardExprs) expect(expr, title).toContain('instance=~"$instance"');
  });

  it('gives every panel a unique id, a title, the data-source variable and at least one query', () => {
    const panels = allPanels(dashboard.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels) {
      expect(panel.title, `panel ${panel.id}`).toBeTruthy();
      if (panel.type === 'row') continue;
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) {
        expect(target.refId, panel.title).toBeTruthy();
        expect(target.expr?.trim(), panel.title).toBeTruthy();
      }
    }
  });

  it('queries only metrics the service exports', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'instance')!.definition!;
    const queries = [...dashboardExprs, { title: 'the instance variable', expr: /^label_values\((.*),\s*\w+\)$/.exec(variable)![1]! }];
    for (const { title, expr } of queries) {
      const names = metricNames(expr);
      expect(names.length, `${title}: ${expr}`).toBeGreaterThan(0);
      expect(names.filter((name) => !exported.has(name)), `${title}: ${expr}`).toEqual([]);
    }
  });
});

describe('the alert rules (deploy/prometheus/alerts.yml)', () => {
  let exported: Set<string>;
  beforeAll(async () => {
    exported = await exportedNames();
  });

  it('give every alert a duration, a severity, and a summary and description for the operator', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.text, rule.alert).toMatch(/^\s+for: \d+[smh]\s*$/m);
      expect(rule.text, rule.alert).toMatch(/^\s+severity: (critical|warning)\s*$/m);
      expect(rule.text, rule.alert).toMatch(/^\s+summary: \S/m);
      expect(rule.text, rule.alert).toMatch(/^\s+description: \S/m);
    }
  });

  it('query only metrics the service exports (and Prometheus’ own `up`)', () => {
    for (const { alert, expr } of rules) {
      const names = metricNames(expr);
      expect(names.length, `${alert}: ${expr}`).toBeGreaterThan(0);
      expect(names.filter((name) => !exported.has(name)), `${alert}: ${expr}`).toEqual([]);
    }
  });
});

describe.skipIf(skipped)('promtool', () => {
  let dir: string;
  beforeAll(() => {
    if (missing) throw new Error(`the alert rules cannot be checked under CI: ${missing}`);
    dir = mkdtempSync(join(tmpdir(), 'bridge-monitoring-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the alert rules, and finds as many as this file read', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', ALERTS], { timeout: PROMTOOL_TIMEOUT_MS });
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  }, 40_000);

  it('passes the rules’ unit tests (alerts.test.yml): each alert fires when it should and not otherwise', async () => {
    const result = await run('promtool', ['test', 'rules', ALERT_TESTS], { timeout: PROMTOOL_TIMEOUT_MS }).catch(
      (err: Error & { stdout?: string; stderr?: string }) => ({ stdout: `${err.message}\n${err.stdout ?? ''}`, stderr: err.stderr ?? '' }),
    );
    expect(`${result.stdout}${result.stderr}`).toMatch(/^\s*SUCCESS\s*$/m);
  }, 40_000);

  it('parses every query of the dashboard as PromQL', async () => {
    // As recording rules, with Grafana's variables given values, so that promtool parses each expression.
    const file = join(dir, 'dashboard-queries.yml');
    const records = dashboardExprs.map(({ expr }, i) => {
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');
      return `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(promql)}\n`;
    });
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${records.join('')}`);
    const { stdout } = await run('promtool', ['check', 'rules', file], { timeout: PROMTOOL_TIMEOUT_MS });
    expect(stdout).toContain(`SUCCESS: ${dashboardExprs.length} rules found`);
  }, 40_000);
});
