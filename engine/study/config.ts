/**
 * A study: one base run config and axes to vary (`method` with per-method settings, `seed`, `train_rows`,
 * `learning_rate`, any run-config key). `expandStudy` turns it into the list of runs — every combination
 * of the axes, done in the order the axes are written, last axis fastest (put `seed` first to get every
 * method's first seed early) — each with a deterministic folder name made of its axis values, so running
 * the study again finds the runs it already finished.
 *
 * Every run's config is resolved (resolveRunConfig) when the study is loaded, so a bad key, a bad value or
 * a method this version does not have is reported, naming the key and the run, before anything trains.
 *
 * Keys the study handles itself (they never reach the trainer):
 *  - `train_rows`: train on the first N rows of the training file after a seeded shuffle (`data_seed`,
 *    default the run's `seed`); the subset is written into the study folder (see subset.ts);
 *  - `data_seed`: the shuffle's seed for `train_rows`;
 *  - `init_from_scratch`: true trains a copy of the model with every weight re-initialised as HF's
 *    `_init_weights` does (seeded by the run's seed), the paper's "randomly initialised" control.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { PeftStudioError } from '../errors';
import { methodInfo } from '../peft/catalog';
import type { MethodSpec } from '../peft/types';
import { resolveRunConfig, type RunConfig } from '../train/config';

/** Study keys the runner handles before a run config exists. */
export const STUDY_KEYS = ['train_rows', 'data_seed', 'init_from_scratch'] as const;
export type StudyKey = (typeof STUDY_KEYS)[number];

export interface StudyConfig {
  /** A title for the report; default the file's name. */
  name?: string;
  /** The run config every run starts from (paths relative to the study file). */
  base: Record<string, unknown>;
  /** Axis key → values. `method` values are a name or `{ name, label?, …settings }`. */
  axes: Record<string, unknown[]>;
  /** The metric the report ranks by; default each run's own primary metric (accuracy, …). */
  metric?: string;
}

/** One run of a study: its axis values, its folder name and its resolved run config. */
export interface StudyRun {
  /** Folder name under `<study>/runs/`: `method-lora__seed-0__train_rows-500`. */
  id: string;
  /** Axis key → the value shown in the report (a method's label, a number, …). */
  axes: Record<string, string | number | boolean>;
  /** Study keys in force for this run (train_rows, data_seed, init_from_scratch). */
  study: { train_rows?: number; data_seed?: number; init_from_scratch?: boolean };
  /** The run config before the study's data and model substitutions (train_rows, init_from_scratch). */
  config: RunConfig;
}

export interface Study {
  file?: string;
  name: string;
  config: StudyConfig;
  axisKeys: string[];
  runs: StudyRun[];
  metric?: string;
}

const TOP_KEYS = ['$schema', 'name', 'base', 'axes', 'metric'];

/**
 * Reads a study file (YAML or JSON) and expands it; every problem is a BAD_INPUT naming the key. Relative
 * paths in it are relative to the file's folder, or to `baseDir` (a notebook's study cell: its notebook's).
 */
export function loadStudyFile(file: string, baseDir?: string): Study {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new PeftStudioError('MISSING_FILE', `${abs}: cannot read the study file (${(e as Error).message})`, abs);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(abs) ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new PeftStudioError('BAD_INPUT', `${abs}: not valid ${/\.json$/i.test(abs) ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})`, abs);
  }
  return expandStudy(validateStudyConfig(raw, abs), baseDir ? path.resolve(baseDir) : path.dirname(abs), { file: abs, name: path.basename(abs).replace(/\.(ya?ml|json)$/i, '') });
}

/** Checks the study's shape (the schema in schemas/study.schema.json), naming the offending key. */
export function validateStudyConfig(raw: unknown, where = 'study'): StudyConfig {
  const bad = (key: string, what: string): never => {
    throw new PeftStudioError('BAD_INPUT', `${where}: ${key} ${what}`);
  };
  if (!isObj(raw)) bad('(top level)', 'must be a mapping with "base" and "axes"');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !TOP_KEYS.includes(k));
  if (unknown.length) bad(unknown.join(', '), `is not a study key (study keys: ${TOP_KEYS.filter((k) => k !== '$schema').join(', ')}; run settings go under "base")`);
  if (!isObj(o.base)) bad('base', 'must be a mapping: the run config every run starts from (model, train_file, …)');
  if (o.axes === undefined) o.axes = {};
  if (!isObj(o.axes)) bad('axes', 'must be a mapping of key → list of values');
  const axes = o.axes as Record<string, unknown>;
  for (const [k, v] of Object.entries(axes)) {
    if (!Array.isArray(v) || v.length === 0) bad(`axes.${k}`, 'must be a non-empty list');
    (v as unknown[]).forEach((x, i) => {
      if (k === 'method') {
        if (typeof x === 'string') return;
        if (!isObj(x) || typeof (x as Record<string, unknown>).name !== 'string') bad(`axes.method[${i}]`, `must be a method name or {name, …settings}, got ${JSON.stringify(x)}`);
        const label = (x as Record<string, unknown>).label;
        if (label !== undefined && (typeof label !== 'string' || !label)) bad(`axes.method[${i}].label`, 'must be a non-empty string');
        return;
      }
      if (x === null || (typeof x === 'object' && !Array.isArray(x))) bad(`axes.${k}[${i}]`, `must be a number, string, boolean or list, got ${JSON.stringify(x)}`);
    });
    const labels = (v as unknown[]).map((x) => (k === 'method' ? methodLabel(x as string | MethodSpec) : JSON.stringify(x)));
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    if (dup) bad(`axes.${k}`, `lists ${dup} twice${k === 'method' ? ' (give the variants different "label"s)' : ''}`);
  }
  for (const k of ['train_rows', 'data_seed'] as const) {
    for (const [i, x] of [...(axes[k] ?? []) as unknown[], ...(o.base as Record<string, unknown>)[k] !== undefined ? [(o.base as Record<string, unknown>)[k]] : []].entries()) {
      if (!(Number.isInteger(x) && (x as number) >= (k === 'train_rows' ? 1 : 0))) bad(axes[k] && i < (axes[k] as unknown[]).length ? `axes.${k}[${i}]` : `base.${k}`, `must be a ${k === 'train_rows' ? 'positive' : 'non-negative'} integer, got ${JSON.stringify(x)}`);
    }
  }
  for (const [i, x] of [...((axes.init_from_scratch ?? []) as unknown[]), ...((o.base as Record<string, unknown>).init_from_scratch !== undefined ? [(o.base as Record<string, unknown>).init_from_scratch] : [])].entries()) {
    if (typeof x !== 'boolean') bad(i < ((axes.init_from_scratch as unknown[] | undefined)?.length ?? 0) ? `axes.init_from_scratch[${i}]` : 'base.init_from_scratch', `must be true or false, got ${JSON.stringify(x)}`);
  }
  if (o.name !== undefined && typeof o.name !== 'string') bad('name', 'must be a string');
  if (o.metric !== undefined && typeof o.metric !== 'string') bad('metric', 'must be a metric name (accuracy, f1, …)');
  if ('output_dir' in (o.base as object) || 'output_dir' in axes) bad('output_dir', 'is set by the study (each run is a folder under <study>/runs/)');
  if ('resume_from_checkpoint' in (o.base as object) || 'resume_from_checkpoint' in axes) bad('resume_from_checkpoint', 'is managed by the study (rerunning it resumes stopped runs)');
  return { name: o.name as string | undefined, base: o.base as Record<string, unknown>, axes: axes as Record<string, unknown[]>, metric: o.metric as string | undefined };
}

/** Every combination of the axes (last axis fastest), each resolved to a run config. */
export function expandStudy(config: StudyConfig, baseDir: string, opts: { file?: string; name?: string } = {}): Study {
  const axisKeys = Object.keys(config.axes);
  const combos: Array<Record<string, unknown>> = [{}];
  for (const key of axisKeys) {
    const next: Array<Record<string, unknown>> = [];
    for (const c of combos) for (const v of config.axes[key]!) next.push({ ...c, [key]: v });
    combos.splice(0, combos.length, ...next);
  }
  const runs: StudyRun[] = [];
  const ids = new Set<string>();
  for (const combo of combos) {
    const merged: Record<string, unknown> = { ...config.base, ...combo };
    const axes: StudyRun['axes'] = {};
    for (const k of axisKeys) axes[k] = k === 'method' ? methodLabel(combo.method as string | MethodSpec) : shown(combo[k]);
    const study: StudyRun['study'] = {};
    for (const k of STUDY_KEYS) {
      if (merged[k] !== undefined) (study as Record<string, unknown>)[k] = merged[k];
      delete merged[k];
    }
    if (isObj(merged.method)) {
      // A method's settings by their own keys (`r`) stay in the spec; by their run-config keys (`lora_r`)
      // they move to the top level, where resolveRunConfig applies them to the method.
      const { label: _label, ...spec } = merged.method as MethodSpec;
      const info = methodInfo(spec.name);
      const own = new Set(info?.settings.map((s) => s.key) ?? []);
      for (const k of Object.keys(spec)) {
        if (k === 'name' || own.has(k) || !info) continue;
        merged[k] = spec[k];
        delete spec[k];
      }
      merged.method = spec;
    }
    const id = runId(axisKeys, axes);
    if (ids.has(id)) throw new PeftStudioError('BAD_INPUT', `study: two runs would share the folder ${id}; give method variants different "label"s`);
    ids.add(id);
    let cfg: RunConfig;
    try {
      cfg = resolveRunConfig(merged, baseDir);
    } catch (e) {
      const where = axisKeys.length ? ` (run ${id})` : '';
      throw new PeftStudioError('BAD_INPUT', `study${where}: ${(e as Error).message}${/unknown method/.test((e as Error).message) ? ' — a method this version does not have' : ''}`);
    }
    runs.push({ id, axes, study, config: cfg });
  }
  return { file: opts.file, name: config.name ?? opts.name ?? 'study', config, axisKeys, runs, metric: config.metric };
}

/** A method axis value as the report shows it: its label, its name, or name + the settings it sets. */
export function methodLabel(m: string | MethodSpec): string {
  if (typeof m === 'string') return m;
  if (typeof m.label === 'string') return m.label;
  const rest = Object.entries(m).filter(([k]) => k !== 'name' && k !== 'label');
  return rest.length ? `${m.name}(${rest.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(',')})` : m.name;
}

function shown(v: unknown): string | number | boolean {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  return Array.isArray(v) ? v.join('+') : JSON.stringify(v);
}

/**
 * `method-lora__seed-0__train_rows-500`: readable, a valid folder name everywhere; long ones get a hash.
 * Keys in a fixed order (method first, then alphabetical), not the file's: reordering the axes (to change
 * the order runs are done in) keeps every finished run's folder.
 */
export function runId(axisKeys: string[], axes: StudyRun['axes']): string {
  if (!axisKeys.length) return 'run';
  const keys = [...axisKeys].sort((a, b) => (a === 'method' ? -1 : b === 'method' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const raw = keys.map((k) => `${k}-${String(axes[k])}`).join('__');
  const safe = raw.replace(/[^A-Za-z0-9_.+=-]+/g, '_');
  if (safe.length <= 120 && safe === raw) return safe;
  return `${safe.slice(0, 100)}-${createHash('sha256').update(raw).digest('hex').slice(0, 8)}`;
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
