/**
 * A run's training method as the front ends show it: which method, with which settings, in a few words
 * ("LoRA r=8", "BitFit all"). Everything comes from the engine's TF-free catalog (engine/peft/catalog.ts),
 * so a method added there shows up here without any change. Shared by the extension host and the webviews.
 */
import { METHOD_INFOS, methodInfo } from '../engine/peft/catalog';
import type { MethodInfo, MethodSpec, SettingSpec } from '../engine/peft/types';

/** The method a config without one trains (engine/train/config.ts DEFAULTS.method). */
export const DEFAULT_METHOD = 'bitfit';

/**
 * Learning rates New Run and the starter notebook offer per method: full fine-tuning needs small steps,
 * the few parameters of BitFit and adapters larger ones, prompt embeddings the largest. A method not
 * listed gets FALLBACK_LEARNING_RATE.
 */
export const DEFAULT_LEARNING_RATES: Readonly<Record<string, number>> = {
  full: 2e-5,
  bitfit: 1e-3,
  lora: 5e-4,
  prompt_tuning: 1e-2,
  prefix_tuning: 1e-2,
  p_tuning: 1e-2,
};
export const FALLBACK_LEARNING_RATE = 1e-3;

export function defaultLearningRate(method: string): number {
  return DEFAULT_LEARNING_RATES[method] ?? FALLBACK_LEARNING_RATE;
}

export function methodInfos(): readonly MethodInfo[] {
  return METHOD_INFOS;
}

export { methodInfo };

export function methodTitle(name: string): string {
  return methodInfo(name)?.title ?? name;
}

/** A setting's top-level config key: its CLI flag in snake_case (`lora_r`, `bias_terms`). */
export function flatKey(s: SettingSpec): string {
  return s.flag.replace(/-/g, '_');
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * The method of a run config as written or stored: `method: { name, … }` (today's runs), `method: lora`
 * with settings as top-level keys (`lora_r: 8`), or an older run's `method: 'bitfit'` with `bias_terms` and
 * `train_head` at the top. Top-level keys override the object, as the engine's resolveRunConfig does.
 * Settings left out keep their defaults (see `withSettingDefaults`).
 */
export function methodOfConfig(config: Record<string, unknown> | undefined): MethodSpec {
  const raw = config?.method;
  const spec: MethodSpec = isObj(raw) && typeof raw.name === 'string' ? { ...raw, name: raw.name } : { name: typeof raw === 'string' ? raw : DEFAULT_METHOD };
  const info = methodInfo(spec.name);
  for (const s of info?.settings ?? []) {
    const v = config?.[flatKey(s)];
    if (v !== undefined) spec[s.key] = v;
  }
  return spec;
}

/** Every setting of the method, defaults filled in where the spec leaves one out. */
export function withSettingDefaults(spec: MethodSpec): MethodSpec {
  const out: MethodSpec = { name: spec.name };
  for (const s of methodInfo(spec.name)?.settings ?? []) out[s.key] = spec[s.key] === undefined ? s.default : spec[s.key];
  for (const [k, v] of Object.entries(spec)) if (!(k in out)) out[k] = v;
  return out;
}

/** One setting in a few characters: lists by their items (`query+value`), the rest as `key=value`. */
export function settingText(s: SettingSpec, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (s.type === 'list') return Array.isArray(v) ? v.map(String).join('+') : String(v);
  return `${s.key}=${Array.isArray(v) ? v.join('+') : String(v)}`;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * "LoRA r=8": the method's title and its first asked setting (`short`), or every asked setting plus every
 * other one that differs from its default (`long`: "LoRA r=8 lora_alpha=16 query+value").
 */
export function methodLabel(spec: MethodSpec, form: 'short' | 'long' = 'short'): string {
  const info = methodInfo(spec.name);
  if (!info) return spec.name;
  const asked = info.settings.filter((s) => s.ask);
  const shown = form === 'short' ? asked.slice(0, 1) : info.settings.filter((s) => s.ask || (spec[s.key] !== undefined && !same(spec[s.key], s.default)));
  const parts = shown.map((s) => settingText(s, spec[s.key] === undefined ? s.default : spec[s.key])).filter((x): x is string => !!x);
  return [info.title, ...parts].join(' ');
}

/** Every setting of the run's method as `key: value` lines (tooltips, notebook outputs). */
export function methodSettingsList(spec: MethodSpec): Array<{ key: string; value: string; isDefault: boolean }> {
  const info = methodInfo(spec.name);
  return (info?.settings ?? []).map((s) => {
    const v = spec[s.key] === undefined ? s.default : spec[s.key];
    return { key: s.key, value: Array.isArray(v) ? `[${v.join(', ')}]` : String(v), isDefault: same(v, s.default) };
  });
}

/** A run's method as its started event recorded it (resolved settings), else as its config asked. */
export function runMethodLabel(run: { view: { started?: { config: Record<string, unknown> } }; config?: Record<string, unknown> }, form: 'short' | 'long' = 'short'): string {
  const config = run.view.started?.config ?? run.config;
  // A distillation run's resolved config names the student's method and holds the teacher in `distill`.
  const distilled = isObj(config?.distill) || (isObj(config?.method) && config.method.name === 'distill') || config?.method === 'distill';
  if (config?.method === 'distill' || (isObj(config?.method) && config.method.name === 'distill')) {
    const student = isObj(config.method) ? config.method.student_method : undefined;
    return `${methodLabel(methodOfConfig({ method: student ?? 'full' }), form)} (distilled)`;
  }
  return `${methodLabel(methodOfConfig(config), form)}${distilled ? ' (distilled)' : ''}`;
}
