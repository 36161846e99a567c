/**
 * Comparing runs of notebook cells: which config keys differ (after inheritance and with schema defaults
 * filled in, so "absent" and "the default, written out" are the same), and the final metrics side by side.
 */
import { finalMetricsOf, type CompareOutput, type CompareRun, type RunOutput } from './output';
import { withDefaults } from './schema';

/** Keys that name or place a run rather than change it: never listed as differences. */
const IGNORED = new Set(['run_name', 'output_dir', 'runs_dir', '$schema']);

/** Nested objects become dotted keys (`a.b`); lists and scalars are leaves. */
export function flatten(config: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

/** How a value reads in the table: lists as `[a, b]`, strings bare, absent as a dash. */
export function showValue(v: unknown): string {
  if (v === undefined) return '–';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ')}]`;
  return JSON.stringify(v);
}

export function diffConfigs(configs: ReadonlyArray<Record<string, unknown>>): { diff: Array<{ key: string; values: string[] }>; sameCount: number } {
  const flat = configs.map((c) => flatten(withDefaults(c)));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].filter((k) => !IGNORED.has(k.split('.')[0]!)).sort();
  const diff: Array<{ key: string; values: string[] }> = [];
  let sameCount = 0;
  for (const key of keys) {
    const raw = flat.map((f) => JSON.stringify(f[key]));
    if (raw.every((r) => r === raw[0])) sameCount++;
    else diff.push({ key, values: flat.map((f) => showValue(f[key])) });
  }
  return { diff, sameCount };
}

export function buildComparison(runs: ReadonlyArray<{ cellId: string; output: RunOutput }>): CompareOutput {
  const rows: CompareRun[] = runs.map(({ cellId, output }) => ({
    cellId,
    label: output.label,
    runId: output.runId,
    status: output.status,
    loss: output.loss,
    finalMetrics: finalMetricsOf(output),
  }));
  const { diff, sameCount } = diffConfigs(runs.map((r) => r.output.config));
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.finalMetrics)))].sort();
  return { v: 1, kind: 'compare', runs: rows, diff, sameCount, metrics };
}
