/**
 * A notebook `study:` cell, checked before anything runs. The study under `study:` has the study file's
 * format (engine/study/config.ts: `name`, `base`, `axes`, `metric`); the engine checks it again, fully
 * (resolveRunConfig), when the study starts, but that pulls TF.js, so the host checks here what it can from
 * the run-config schema alone: the study's shape, that each axis is a study key or a run-config key, that
 * each method exists, and every combination of the axes as a run config (schema.ts validateConfig) — so an
 * unknown axis or a bad method is a problem on its line while typing, not a failed run later.
 * vscode-free, unit-tested in Node.
 */
import type { ParsedCell, Span } from './cells';
import { methodInfo } from '../../../protocol/method';
import { configKeys, validateConfig } from './schema';

/** Keys the study runner handles itself (engine/study/config.ts STUDY_KEYS). */
export const STUDY_AXIS_KEYS = ['train_rows', 'data_seed', 'init_from_scratch'] as const;
const TOP_KEYS = ['name', 'base', 'axes', 'metric'];
/** Every combination is checked up to this many; a study bigger than that is checked on its first ones. */
const MAX_CHECKED = 500;

export interface StudyCellConfig {
  name?: string;
  base: Record<string, unknown>;
  axes: Record<string, unknown[]>;
  metric?: string;
}

export interface StudyProblem {
  /** Dotted path of the key at fault (`axes.method[1]`), or undefined for the study as a whole. */
  path?: string;
  message: string;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The study's problems, each naming the key at fault; none means it can run. */
export function validateStudyCell(study: unknown): StudyProblem[] {
  const out: StudyProblem[] = [];
  if (!isObj(study)) return [{ path: undefined, message: 'study: must be a mapping with "base" (the run config every run starts from) and "axes"' }];
  for (const k of Object.keys(study)) if (!TOP_KEYS.includes(k)) out.push({ path: k, message: `"${k}" is not a study key (study keys: ${TOP_KEYS.join(', ')}; run settings go under "base")` });
  if (study.name !== undefined && (typeof study.name !== 'string' || !study.name.trim())) out.push({ path: 'name', message: 'name must be a non-empty string' });
  if (study.metric !== undefined && typeof study.metric !== 'string') out.push({ path: 'metric', message: 'metric must be a metric name (accuracy, f1, …)' });
  if (!isObj(study.base)) {
    out.push({ path: study.base === undefined ? undefined : 'base', message: 'base must be a mapping: the run config every run starts from (model, train_file, …)' });
    return out;
  }
  const axes = study.axes ?? {};
  if (!isObj(axes)) {
    out.push({ path: 'axes', message: 'axes must be a mapping of key → list of values' });
    return out;
  }
  for (const k of ['output_dir', 'resume_from_checkpoint']) {
    if (k in study.base) out.push({ path: `base.${k}`, message: `${k} is set by the study (each run is a folder of the study)` });
    if (k in axes) out.push({ path: `axes.${k}`, message: `${k} is set by the study (each run is a folder of the study)` });
  }
  const runKeys = new Set(configKeys().map((c) => c.key));
  let shapeOk = true;
  for (const [k, values] of Object.entries(axes)) {
    if (!Array.isArray(values) || values.length === 0) {
      out.push({ path: `axes.${k}`, message: `axes.${k} must be a non-empty list` });
      shapeOk = false;
      continue;
    }
    if (k !== 'method' && !runKeys.has(k) && !(STUDY_AXIS_KEYS as readonly string[]).includes(k)) {
      out.push({ path: `axes.${k}`, message: `unknown axis "${k}": an axis is method, seed, ${STUDY_AXIS_KEYS.join(', ')} or a run-config key (learning_rate, max_steps, …)` });
      shapeOk = false;
      continue;
    }
    values.forEach((v, i) => {
      const at = `axes.${k}[${i}]`;
      if (k === 'method') {
        const name = typeof v === 'string' ? v : isObj(v) && typeof v.name === 'string' ? v.name : undefined;
        if (name === undefined) {
          out.push({ path: at, message: `a method is a name or {name, label?, …settings}, got ${JSON.stringify(v)}` });
          shapeOk = false;
        } else if (!methodInfo(name)) {
          out.push({ path: at, message: `unknown method "${name}"` });
          shapeOk = false;
        } else if (isObj(v) && v.label !== undefined && (typeof v.label !== 'string' || !v.label)) {
          out.push({ path: `${at}.label`, message: 'label must be a non-empty string' });
          shapeOk = false;
        }
        return;
      }
      if (v === null || isObj(v)) {
        out.push({ path: at, message: `${k} values are numbers, strings, booleans or lists, got ${JSON.stringify(v)}` });
        shapeOk = false;
      } else if ((k === 'train_rows' && !(Number.isInteger(v) && (v as number) >= 1)) || (k === 'data_seed' && !(Number.isInteger(v) && (v as number) >= 0))) {
        out.push({ path: at, message: `${k} must be a ${k === 'train_rows' ? 'positive' : 'non-negative'} integer, got ${JSON.stringify(v)}` });
        shapeOk = false;
      } else if (k === 'init_from_scratch' && typeof v !== 'boolean') {
        out.push({ path: at, message: `init_from_scratch must be true or false, got ${JSON.stringify(v)}` });
        shapeOk = false;
      }
    });
    const labels = values.map((v) => (k === 'method' ? methodAxisLabel(v) : JSON.stringify(v)));
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    if (dup) out.push({ path: `axes.${k}`, message: `axes.${k} lists ${dup} twice${k === 'method' ? ' (give the variants different "label"s)' : ''}` });
  }
  if (!shapeOk || out.length) return out;
  // Every combination as a run config: the schema's checks (required keys, types, a setting of another method).
  const seen = new Set<string>();
  for (const combo of combinations(axes as Record<string, unknown[]>).slice(0, MAX_CHECKED)) {
    const config = runConfigOf(study.base, combo);
    for (const issue of validateConfig(config)) {
      const axis = issue.key !== undefined && issue.key in combo ? `axes.${issue.key}` : issue.key !== undefined && issue.key in study.base ? `base.${issue.key}` : issue.key !== undefined && 'method' in combo ? 'axes.method' : undefined;
      const where = Object.keys(combo).length ? ` (run ${Object.entries(combo).map(([k, v]) => `${k}=${k === 'method' ? methodAxisLabel(v) : JSON.stringify(v)}`).join(', ')})` : '';
      const key = `${axis}\n${issue.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ path: axis, message: `${issue.message}${where}` });
    }
  }
  return out;
}

/** The study's runs: every combination of the axes, last axis fastest (the engine's order). */
export function combinations(axes: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let combos: Array<Record<string, unknown>> = [{}];
  for (const [k, values] of Object.entries(axes)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  return combos;
}

/** base + one combination, as the engine builds the run config: study keys out, a method's run-config keys moved up. */
export function runConfigOf(base: Record<string, unknown>, combo: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base, ...combo };
  for (const k of STUDY_AXIS_KEYS) delete merged[k];
  if (isObj(merged.method)) {
    const { label: _label, ...spec } = merged.method;
    const own = new Set(methodInfo(String(spec.name))?.settings.map((s) => s.key) ?? []);
    for (const k of Object.keys(spec)) {
      if (k === 'name' || own.has(k)) continue;
      merged[k] = spec[k];
      delete spec[k];
    }
    merged.method = spec;
  }
  return merged;
}

/** A method axis value as the report names it (engine/study/config.ts methodLabel). */
export function methodAxisLabel(m: unknown): string {
  if (typeof m === 'string') return m;
  if (!isObj(m)) return JSON.stringify(m);
  if (typeof m.label === 'string') return m.label;
  const rest = Object.entries(m).filter(([k]) => k !== 'name' && k !== 'label');
  return rest.length ? `${String(m.name)}(${rest.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(',')})` : String(m.name);
}

/** The number of runs the study has (the product of the axes' lengths). */
export function studyRunCount(study: StudyCellConfig): number {
  return Object.values(study.axes).reduce((n, v) => n * v.length, 1);
}

/** A problem's place in the cell: its key's line (for "unknown …") or value's, else the `study:` key. */
export function studyProblemSpan(cell: ParsedCell, p: StudyProblem): Span {
  const fallback = cell.keySpans.study ?? [0, 1];
  if (p.path === undefined) return fallback;
  const spans = /^unknown axis|is not a study key/.test(p.message) ? cell.studyKeySpans : cell.studyValueSpans;
  let path: string | undefined = p.path;
  while (path) {
    const s = spans?.[path] ?? cell.studyValueSpans?.[path];
    if (s) return s;
    path = path.includes('.') || path.includes('[') ? path.replace(/(\.[^.[\]]+|\[\d+\])$/, '') : undefined;
  }
  return fallback;
}

/** A folder name for the study: its `name`, else the notebook's name and the cell's id. */
export function studyFolderName(name: string | undefined, notebookBase: string, cellId: string): string {
  const raw = name?.trim() || `${notebookBase.replace(/\.peftnb$/i, '')}-${cellId}`;
  return raw.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 80) || `study-${cellId}`;
}
