/**
 * Comparing runs of notebook cells: which config keys differ (after inheritance and with schema defaults
 * filled in, so "absent" and "the default, written out" are the same), and the final metrics side by side.
 */
import { flatKey, methodInfo, methodInfos, methodLabel, methodOfConfig, withSettingDefaults } from '../../../protocol/method';
import { finalMetricsOf, type CompareOutput, type CompareRun, type RunOutput } from '../../../protocol/notebook-output';
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

/**
 * A config as a comparison sees it: schema defaults filled in, and the method as one object with every
 * setting (`method.name`, `method.r`, …), whether the cell wrote `method: lora` + `lora_r: 8`, a nested
 * object, or an older run's `method: bitfit` + `bias_terms`.
 */
export function comparableConfig(config: Record<string, unknown>): Record<string, unknown> {
  const spec = withSettingDefaults(methodOfConfig(config));
  const out = withDefaults(config);
  for (const k of Object.keys(out)) if (k !== 'method' && isMethodSettingKey(k)) delete out[k];
  return { ...out, method: spec };
}

function isMethodSettingKey(key: string): boolean {
  return flatKeys().has(key);
}

let flatKeyCache: Set<string> | undefined;
function flatKeys(): Set<string> {
  return (flatKeyCache ??= new Set(methodInfos().flatMap((m) => m.settings.map(flatKey))));
}

/**
 * The `method.*` keys where some run's method has a setting off its default. Between runs of different
 * methods every setting of each "differs" (the other run has none); those still at their defaults say
 * nothing the method row does not, so only these are listed.
 */
function chosenMethodKeys(configs: ReadonlyArray<Record<string, unknown>>): Set<string> {
  const out = new Set<string>();
  for (const c of configs) {
    const spec = methodOfConfig(c);
    for (const s of methodInfo(spec.name)?.settings ?? []) {
      if (spec[s.key] !== undefined && JSON.stringify(spec[s.key]) !== JSON.stringify(s.default)) out.add(`method.${s.key}`);
    }
  }
  return out;
}

export function diffConfigs(configs: ReadonlyArray<Record<string, unknown>>): { diff: Array<{ key: string; values: string[] }>; sameCount: number } {
  const flat = configs.map((c) => flatten(comparableConfig(c)));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].filter((k) => !IGNORED.has(k.split('.')[0]!)).sort();
  const chosen = chosenMethodKeys(configs);
  const diff: Array<{ key: string; values: string[] }> = [];
  let sameCount = 0;
  for (const key of keys) {
    const raw = flat.map((f) => JSON.stringify(f[key]));
    if (raw.every((r) => r === raw[0]) || (key.startsWith('method.') && key !== 'method.name' && !chosen.has(key))) sameCount++;
    else diff.push({ key, values: flat.map((f) => showValue(f[key])) });
  }
  return { diff, sameCount };
}

export function buildComparison(runs: ReadonlyArray<{ cellId: string; output: RunOutput }>): CompareOutput {
  const rows: CompareRun[] = runs.map(({ cellId, output }) => ({
    cellId,
    label: output.label,
    method: output.method ?? methodLabel(methodOfConfig(output.config), 'long'),
    runId: output.runId,
    status: output.status,
    loss: output.loss,
    finalMetrics: finalMetricsOf(output),
  }));
  const { diff, sameCount } = diffConfigs(runs.map((r) => r.output.config));
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.finalMetrics)))].sort();
  return { v: 1, kind: 'compare', runs: rows, diff, sameCount, metrics };
}
