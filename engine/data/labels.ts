/**
 * From the label cells of a file to label ids, and the task they imply. The rules, in order:
 *
 * Task: `opts.task` if given; else 'regression' when numLabels is 1; else 'multi_label' when labels are
 * JSON/Parquet lists; else 'regression' when every label is a number and one is not an integer (STS-B's
 * 3.8), as HF's run_glue decides from the column's float dtype; else 'classification'.
 *
 * Classification ids:
 *  - Integer labels ARE the ids: "0" is class 0, and a file with only 3 and 7 has ids 3 and 7 (numLabels 8),
 *    never renumbered by order of appearance, which would silently swap classes between train and dev files.
 *  - Name labels (`entailment`) map through `labelMap` (the model's label2id) when given, else to their
 *    index in sorted order, as run_glue does. One name among integers makes every label a name.
 *  - numLabels is `opts.numLabels` (the model's), else the labelMap's largest id + 1, else the labels'
 *    largest id + 1 (or the number of names), at least 2. An id at or above numLabels is a bad row; more
 *    distinct names than numLabels is an error for the whole file.
 * Multi-label: a list, or a comma-separated string, of ids or names (as above), made a multi-hot vector.
 * An empty list is a valid "no label applies"; an empty cell is a missing label.
 *
 * A few odd labels never decide the task: labels of a kind (integer, non-integer number, name) that make up
 * at most 5% of the file's labels, among labels of another kind, are bad rows — one `0.5` among 0/1 labels
 * does not make the file a regression, one `maybe` or `NaN` does not make a third class. And a class id
 * taken from the data (no model to bound it) is at most MAX_INFERRED_CLASS_ID: a label of 100000000 is a
 * bad row, not a head of a hundred million classes.
 */
import { PeftStudioError } from '../errors';
import { CONFIG_LIMITS } from '../model/config';
import type { DatasetOptions, Label, Task } from './types';

/** The largest class id a file may imply on its own (the model config's label limit, less one). */
export const MAX_INFERRED_CLASS_ID = CONFIG_LIMITS.num_labels - 1;

/** A kind of label is a minority, never deciding the task, when it is at most this share of the labels. */
const MINORITY_SHARE = 0.05;

type Kind = 'integer' | 'number' | 'name';

export type Parsed = { label: Label } | { reason: string };

export interface LabelPlan {
  task: Task;
  numLabels: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  /** `raw` is a present (non-missing) cell: see isMissing. */
  parse(raw: unknown): Parsed;
}

/** Empty cells, JSON null, absent keys. */
export function isMissing(raw: unknown): boolean {
  return raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
}

/** Plans from the present label cells of the rows that survived reading. */
export function planLabels(file: string, raws: unknown[], opts: DatasetOptions): LabelPlan {
  const listy = !opts.task && opts.numLabels !== 1 && raws.some(Array.isArray);
  const odd = opts.labelMap || listy || opts.task === 'multi_label' ? undefined : oddKinds(raws.map(scalar));
  const task = chooseTask(raws, opts, odd);
  if (opts.numLabels !== undefined) {
    const n = opts.numLabels;
    if (!Number.isInteger(n) || n < 1) throw new PeftStudioError('BAD_INPUT', `numLabels must be a positive integer, got ${n}`);
    if (task === 'regression' && n !== 1)
      throw new PeftStudioError('BAD_INPUT', `task 'regression' needs numLabels 1, got ${n}`);
    if (task !== 'regression' && n === 1)
      throw new PeftStudioError('BAD_INPUT', `task '${task}' needs numLabels of at least 2; numLabels 1 means regression`);
  }
  if (task === 'regression') return { task, numLabels: 1, parse: parseFloatLabel };
  const items = task === 'multi_label' ? raws.flatMap(listItems) : raws;
  const outliers = task === 'classification' ? odd : undefined;
  const values = items.map(scalar).filter((v) => !outliers?.kinds.has(kindOf(v)));
  const codec = makeCodec(file, values, opts, task);
  if (task === 'classification') {
    return {
      ...codec.info,
      task,
      parse(raw) {
        const v = scalar(raw);
        return outliers?.kinds.has(kindOf(v)) ? { reason: outliers.reason(v) } : codec.encode(v);
      },
    };
  }
  return {
    ...codec.info,
    task,
    parse(raw) {
      const hot = new Array<number>(codec.info.numLabels).fill(0);
      for (const item of listItems(raw)) {
        const r = codec.encode(scalar(item));
        if ('reason' in r) return r;
        hot[r.label as number] = 1;
      }
      return { label: hot };
    },
  };
}

interface OddKinds {
  /** Kinds too rare to decide anything: their rows are bad rows. */
  kinds: Set<Kind>;
  /** Whether the remaining labels are numbers of which some are not integers (a regression target). */
  regression: boolean;
  reason(v: string | number): string;
}

/** Which label kinds are a small minority among another kind (see the header). */
function oddKinds(values: (string | number)[]): OddKinds {
  const count: Record<Kind, number> = { integer: 0, number: 0, name: 0 };
  for (const v of values) count[kindOf(v)] += 1;
  const n = values.length;
  const minority = (k: Kind) => count[k] > 0 && count[k] <= MINORITY_SHARE * n;
  const kinds = new Set<Kind>();
  let regression = false;
  if (count.name > 0 && !minority('name')) {
    // Names decide: a few numbers among them are odd ones out, many make every label a name (as before).
    const numeric = count.integer + count.number;
    if (numeric > 0 && numeric <= MINORITY_SHARE * n) for (const k of ['integer', 'number'] as const) if (count[k] > 0) kinds.add(k);
  } else {
    if (count.name > 0) kinds.add('name');
    if (count.number > 0 && minority('number') && count.integer > 0) kinds.add('number');
    else regression = count.number > 0;
  }
  const rest = (v: string | number) => n - count[kindOf(v)];
  return {
    kinds,
    regression,
    reason(v) {
      const k = kindOf(v);
      if (k === 'name') return `label '${v}' is not a class id like the other ${rest(v)} labels, which are numbers`;
      if (k === 'number' && count.name === 0) {
        return `label '${v}' is not an integer class id like the other ${rest(v)} labels (for a regression task, set problem_type "regression" in the model's config.json)`;
      }
      return `label '${v}' is a number among ${count.name} label names`;
    },
  };
}

function chooseTask(raws: unknown[], opts: DatasetOptions, odd: OddKinds | undefined): Task {
  if (opts.task) return opts.task;
  if (opts.numLabels === 1) return 'regression';
  if (raws.some(Array.isArray)) return 'multi_label';
  // A model of two or more labels classifies: decimal labels are then bad rows, not a switch to regression.
  if (opts.labelMap || opts.numLabels !== undefined || raws.length === 0 || !odd) return 'classification';
  return odd.regression ? 'regression' : 'classification';
}

/** Labels as the codec sees them: trimmed strings or numbers (Parquet int64 arrives as bigint). */
function scalar(raw: unknown): string | number {
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'boolean') return raw ? 1 : 0; // QQP-style is_duplicate: true/false
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') return raw.trim();
  // An object or nested list where a label should be: reported as unknown. Parquet integers inside it are
  // bigints, which JSON.stringify refuses.
  return JSON.stringify(raw, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(raw);
}

const INTEGER = /^[+-]?\d+(\.0*)?$/; // "1.0" too: pandas writes integer columns with a NaN in them that way
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function kindOf(v: string | number): Kind {
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (INTEGER.test(v)) return 'integer';
  return NUMBER.test(v) ? 'number' : 'name';
}

function listItems(raw: unknown): unknown[] {
  if (Array.isArray(raw)) return raw;
  if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [raw];
}

function parseFloatLabel(raw: unknown): Parsed {
  const v = scalar(raw);
  const x = typeof v === 'number' ? v : NUMBER.test(v) ? Number(v) : NaN;
  return Number.isFinite(x) ? { label: x } : { reason: `label '${String(v)}' is not a number` };
}

interface Codec {
  info: Pick<LabelPlan, 'numLabels' | 'id2label' | 'label2id'>;
  encode(v: string | number): Parsed;
}

function makeCodec(file: string, values: (string | number)[], opts: DatasetOptions, task: Task): Codec {
  const { labelMap } = opts;
  const min = task === 'classification' ? 2 : 1;
  if (labelMap) {
    const ids = Object.values(labelMap);
    if (ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0))
      throw new PeftStudioError('BAD_INPUT', `labelMap must map names to ids 0, 1, …: ${JSON.stringify(labelMap)}`);
    const numLabels = opts.numLabels ?? Math.max(min, Math.max(...ids) + 1);
    if (Math.max(...ids) >= numLabels)
      throw new PeftStudioError('BAD_INPUT', `labelMap has ids beyond numLabels ${numLabels}: ${JSON.stringify(labelMap)}`);
    const lower = caseInsensitiveIndex(labelMap);
    const known = Object.keys(labelMap).join(', ');
    const id2label = Object.fromEntries(Object.entries(labelMap).map(([k, v]) => [v, k]));
    return {
      info: { numLabels, id2label, label2id: { ...labelMap } },
      encode(v) {
        const s = String(v);
        const id = Object.hasOwn(labelMap, s) ? labelMap[s] : lower.get(s.toLowerCase());
        if (id !== undefined) return { label: id };
        if (kindOf(v) === 'integer') return checkId(Number(v), numLabels, true);
        return { reason: `unknown label '${s}' (known: ${known})` };
      },
    };
  }

  if (values.some((v) => kindOf(v) === 'name')) {
    const names = [...new Set(values.map(String))].sort();
    if (opts.numLabels !== undefined && names.length > opts.numLabels) {
      const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')}, …` : names.join(', ');
      throw new PeftStudioError(
        'BAD_DATA',
        `${file} has ${names.length} distinct labels (${shown}) but the model has ${opts.numLabels}`,
        file,
      );
    }
    const label2id = Object.fromEntries(names.map((n, i) => [n, i]));
    const id2label = Object.fromEntries(names.map((n, i) => [i, n]));
    // Every name was seen in planning, so encode only misses on rows planning did not see (none today).
    return {
      info: { numLabels: opts.numLabels ?? Math.max(min, names.length), id2label, label2id },
      encode: (v) => (Object.hasOwn(label2id, String(v)) ? { label: label2id[String(v)] } : { reason: `unknown label '${v}'` }),
    };
  }

  // Without a model to say how many classes there are, the ids imply it: within MAX_INFERRED_CLASS_ID.
  const usable = (id: number) => opts.numLabels !== undefined || (id >= 0 && id <= MAX_INFERRED_CLASS_ID);
  const ids = values.filter((v) => kindOf(v) === 'integer').map(Number).filter(usable);
  const numLabels = opts.numLabels ?? Math.max(min, ids.reduce((m, id) => Math.max(m, id + 1), 0));
  return {
    info: { numLabels },
    encode(v) {
      if (kindOf(v) !== 'integer') return { reason: `label '${v}' is not an integer class id` };
      const id = Number(v);
      if (!usable(id)) {
        return { reason: `label ${v} is not a usable class id: ids taken from the data run from 0 to ${MAX_INFERRED_CLASS_ID}` };
      }
      return checkId(id, numLabels, opts.numLabels !== undefined);
    },
  };
}

function checkId(id: number, numLabels: number, fromModel: boolean): Parsed {
  if (id >= 0 && id < numLabels) return { label: id };
  const whose = fromModel ? 'the model has' : 'the dataset has';
  return { reason: `label ${id} is out of range: ${whose} ${numLabels} labels (0–${numLabels - 1})` };
}

/** Lower-cased name → id, for names whose lower-case form is unambiguous. */
function caseInsensitiveIndex(labelMap: Record<string, number>): Map<string, number> {
  const index = new Map<string, number>();
  const clashes = new Set<string>();
  for (const [name, id] of Object.entries(labelMap)) {
    const key = name.toLowerCase();
    if (index.has(key) && index.get(key) !== id) clashes.add(key);
    index.set(key, id);
  }
  for (const key of clashes) index.delete(key);
  return index;
}
