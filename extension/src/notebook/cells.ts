/**
 * A notebook code cell's text → what it means. Four kinds of cell:
 *   run      a run config in YAML (or JSON, which YAML 1.2 reads too); may start with `extends: previous`
 *   compare  `compare: all` or `compare: [cellId, …]`: a comparison of the runs of other cells
 *   study    `study: {name?, base, axes, metric?}`: a method study, in the study file's format (study-cell.ts)
 *   empty    nothing but comments
 * Offsets of every top-level key and value are kept so diagnostics can point at the line that is wrong.
 */
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { flatKey, methodInfo, methodInfos, methodOfConfig } from '../../../protocol/method';

export type Span = [start: number, end: number];

export interface CellProblem {
  message: string;
  span: Span;
}

export interface ParsedCell {
  kind: 'run' | 'compare' | 'study' | 'empty';
  /** The cell's own keys (without `extends`). */
  config: Record<string, unknown>;
  /** `extends: previous`: the config starts from the nearest run cell above. */
  extendsPrevious: boolean;
  /** For compare cells: 'all', or the cell ids listed. */
  compare?: 'all' | string[];
  /** Syntax and shape problems of this cell alone. */
  problems: CellProblem[];
  keySpans: Record<string, Span>;
  valueSpans: Record<string, Span>;
  /** For study cells: the value under `study:`, and the spans of its nested keys and list items by path
   * (`axes.method`, `axes.method[1]`, `base.lora_r`), so a problem points at its line. */
  study?: unknown;
  studyKeySpans?: Record<string, Span>;
  studyValueSpans?: Record<string, Span>;
}

export const EXTENDS_KEY = 'extends';
export const EXTENDS_PREVIOUS = 'previous';
export const COMPARE_KEY = 'compare';
export const STUDY_KEY = 'study';

export function parseCell(text: string): ParsedCell {
  const out: ParsedCell = { kind: 'empty', config: {}, extendsPrevious: false, problems: [], keySpans: {}, valueSpans: {} };
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) out.problems.push({ message: e.message.split('\n')[0]!, span: [e.pos[0], Math.max(e.pos[1], e.pos[0] + 1)] });
  if (out.problems.length) {
    out.kind = 'run';
    return out;
  }
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) return out;
  if (!isMap(contents)) {
    out.kind = 'run';
    out.problems.push({ message: 'a run cell is a mapping of settings (key: value), one per line', span: rangeOf(contents, text) });
    return out;
  }
  const value = contents.toJSON() as Record<string, unknown>;
  for (const pair of contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    out.keySpans[key] = rangeOf(pair.key, text);
    out.valueSpans[key] = pair.value ? rangeOf(pair.value, text) : out.keySpans[key]!;
  }
  if (COMPARE_KEY in value) {
    out.kind = 'compare';
    const c = value[COMPARE_KEY];
    if (c === 'all') out.compare = 'all';
    else if (Array.isArray(c) && c.every((x) => typeof x === 'string' || typeof x === 'number')) out.compare = c.map(String);
    else out.problems.push({ message: 'compare: all, or compare: [cellId, …]', span: out.valueSpans[COMPARE_KEY]! });
    for (const k of Object.keys(value)) if (k !== COMPARE_KEY) out.problems.push({ message: `a compare cell has only the "compare" key`, span: out.keySpans[k]! });
    return out;
  }
  if (STUDY_KEY in value) {
    out.kind = 'study';
    out.study = value[STUDY_KEY];
    out.studyKeySpans = {};
    out.studyValueSpans = {};
    const node = contents.items.find((p) => isScalar(p.key) && p.key.value === STUDY_KEY)?.value;
    collectSpans(node, '', text, out.studyKeySpans, out.studyValueSpans, 0);
    for (const k of Object.keys(value)) if (k !== STUDY_KEY) out.problems.push({ message: `a study cell has only the "study" key (the run settings go under study.base)`, span: out.keySpans[k]! });
    return out;
  }
  out.kind = 'run';
  if (EXTENDS_KEY in value) {
    if (value[EXTENDS_KEY] === EXTENDS_PREVIOUS) out.extendsPrevious = true;
    else out.problems.push({ message: `extends: previous is the only form (it inherits from the nearest run cell above)`, span: out.valueSpans[EXTENDS_KEY]! });
    delete value[EXTENDS_KEY];
  }
  out.config = value;
  return out;
}

/** Key and value spans of nested mappings and lists, by dotted path (`axes.method[1]`), a few levels deep. */
function collectSpans(node: unknown, prefix: string, text: string, keys: Record<string, Span>, values: Record<string, Span>, depth: number): void {
  if (depth > 4) return;
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const p = prefix ? `${prefix}.${key}` : key;
      keys[p] = rangeOf(pair.key, text);
      values[p] = pair.value ? rangeOf(pair.value, text) : keys[p]!;
      collectSpans(pair.value, p, text, keys, values, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const p = `${prefix}[${i}]`;
      keys[p] = values[p] = rangeOf(item, text);
      collectSpans(item, p, text, keys, values, depth + 1);
    });
  }
}

function rangeOf(node: unknown, text: string): Span {
  const r = (node as { range?: [number, number, number] } | null)?.range;
  return r ? [r[0], Math.max(r[1], r[0] + 1)] : [0, Math.max(1, text.length)];
}

/** Nested objects merge key by key; anything else (scalars, lists) replaces; `null` removes the key. */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v === null) delete out[k];
    else if (isPlainObject(v) && isPlainObject(b)) out[k] = mergeConfig(b, v);
    else out[k] = v;
  }
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export type Resolution = { ok: true; config: Record<string, unknown>; chain: number[] } | { ok: false; error: string; chain: number[] };

/**
 * The full config of cell `index` in `cells` (the notebook's code cells in order; markdown left out by the
 * caller): its own keys over those of the run cells it extends, walking upward. Compare and empty cells are
 * skipped, so a comparison between two experiments does not break the chain. `chain` lists the cells used,
 * this one first.
 */
export function resolveCell(cells: readonly ParsedCell[], index: number): Resolution {
  const chain: number[] = [];
  const layers: Array<Record<string, unknown>> = [];
  let i = index;
  for (;;) {
    const cell = cells[i];
    if (!cell || cell.kind !== 'run') return { ok: false, error: `cell ${i + 1} is not a run cell`, chain };
    chain.push(i);
    if (cell.problems.length) return { ok: false, error: i === index ? cell.problems[0]!.message : `cell ${i + 1}, which this one extends, has an error: ${cell.problems[0]!.message}`, chain };
    layers.push(cell.config);
    if (!cell.extendsPrevious) break;
    const prev = previousRunCell(cells, i);
    if (prev < 0) return { ok: false, error: i === index ? 'extends: previous, but there is no run cell above this one' : `cell ${i + 1} extends a previous cell, but there is none above it`, chain };
    i = prev;
  }
  const config = layers.reverse().reduce((acc, layer) => mergeConfig(switchMethod(acc, layer), layer), {} as Record<string, unknown>);
  return { ok: true, config, chain };
}

/**
 * A cell that names another method than the one it inherits starts that method afresh: the inherited
 * method object and the other method's top-level settings (`bias_terms` under `method: lora`) are dropped,
 * so "same data and schedule, but LoRA" is one `extends: previous` cell.
 */
export function switchMethod(inherited: Record<string, unknown>, layer: Record<string, unknown>): Record<string, unknown> {
  if (layer.method === undefined || layer.method === null) return inherited;
  const canonical = (name: string) => methodInfo(name)?.name ?? name;
  const next = canonical(methodOfConfig({ method: layer.method }).name);
  if (next === canonical(methodOfConfig(inherited).name)) return inherited;
  const own = new Set((methodInfo(next)?.settings ?? []).map(flatKey));
  const foreign = new Set(methodInfos().flatMap((m) => m.settings.map(flatKey)).filter((k) => !own.has(k)));
  return Object.fromEntries(Object.entries(inherited).filter(([k]) => k !== 'method' && !foreign.has(k)));
}

export function previousRunCell(cells: readonly ParsedCell[], index: number): number {
  for (let j = index - 1; j >= 0; j--) if (cells[j]!.kind === 'run') return j;
  return -1;
}
