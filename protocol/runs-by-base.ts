/**
 * "One base, many task models": runs grouped by the base model they were trained from. Several task runs
 * (LoRA or adapters on sentiment, on topics, …) share one encoder; the Runs tree shows a node per base
 * model with its task runs beneath, and the playground switches between the task runs of one base (the
 * predict worker keeps them over one shared encoder). Pure and DOM/vscode-free: host and webviews use it.
 */

/** The config fields this needs: a run's resolved config (its `started` event) or the config it was started with. */
export interface RunForGrouping {
  runId: string;
  config: Record<string, unknown> | undefined;
}

export interface BaseGroup<R extends RunForGrouping = RunForGrouping> {
  /** The base model's folder as the run named it, normalised (the grouping key). */
  key: string;
  /** Its last folder name (`bert-tiny`). */
  label: string;
  runs: R[];
}

const NO_BASE = '(no model)';

/** Path text normalised enough to group: forward slashes, no trailing slash, no `./`. */
function normalise(p: string): string {
  const s = p.replace(/\\/g, '/').replace(/\/+$/, '').replace(/(^|\/)\.\//g, '$1');
  return s === '' ? '/' : s;
}

function lastName(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return parts.at(-1) ?? p;
}

/**
 * The base model of a run: its `model` folder. A distilled student built from the teacher's layers has that
 * built folder as its base (named "student of <teacher>"); one with its own `student` folder has that folder.
 */
export function baseModelOf(config: Record<string, unknown> | undefined, resolve: (p: string) => string = (p) => p): { key: string; label: string } {
  const distill = config?.distill as Record<string, unknown> | undefined;
  const method = config?.method as Record<string, unknown> | undefined;
  const student = (typeof distill?.student === 'string' && distill.student) || (typeof method?.student === 'string' && method.student) || undefined;
  const model = student ?? (typeof config?.model === 'string' ? config.model : undefined);
  if (!model) return { key: NO_BASE, label: NO_BASE };
  const key = normalise(resolve(model));
  // A student built from the teacher's own layers lives in a content-addressed `<runs>/.students/<hash>`
  // folder; its hash means nothing to a reader, so it is named after the teacher it came from.
  const teacher = typeof distill?.teacher === 'string' ? distill.teacher : typeof method?.teacher === 'string' ? method.teacher : undefined;
  if (teacher && /\/\.students\/[^/]+$/.test(key)) return { key, label: `student of ${lastName(normalise(teacher))}` };
  return { key, label: lastName(key) };
}

/**
 * The task a run was trained for, in a word: its training file's folder when the file has a generic name
 * (`sentiment/train.tsv` → `sentiment`), else the file's name without its extension (`topics.csv` → `topics`).
 */
export function taskOf(config: Record<string, unknown> | undefined): string {
  const file = typeof config?.train_file === 'string' ? normalise(config.train_file) : '';
  if (!file) return '?';
  const parts = file.split('/').filter(Boolean);
  const stem = (parts.at(-1) ?? file).replace(/\.[^.]+$/, '');
  const generic = /^(train|training|data|dataset)([-_.]\w+)?$/i.test(stem);
  return generic && parts.length > 1 ? parts.at(-2)! : stem;
}

/** Runs grouped by base model, groups in order of their first run, runs in the order given. */
export function groupByBase<R extends RunForGrouping>(runs: readonly R[], resolve?: (p: string, run: R) => string): BaseGroup<R>[] {
  const groups = new Map<string, BaseGroup<R>>();
  for (const r of runs) {
    const b = baseModelOf(r.config, resolve ? (p) => resolve(p, r) : undefined);
    let g = groups.get(b.key);
    if (!g) groups.set(b.key, (g = { key: b.key, label: b.label, runs: [] }));
    g.runs.push(r);
  }
  // Two folders with the same last name get their parent's name too, so the tree tells them apart.
  const all = [...groups.values()];
  const seen = new Map<string, number>();
  for (const g of all) seen.set(g.label, (seen.get(g.label) ?? 0) + 1);
  for (const g of all) if (seen.get(g.label)! > 1) g.label = g.key.split('/').filter(Boolean).slice(-2).join('/');
  return all;
}

const STATUS_ORDER = ['running', 'paused', 'queued', 'finished', 'stopped', 'failed'] as const;

/** "1 running · 2 finished": how many runs of a group are in each status, busiest first. */
export function statusCounts(statuses: readonly string[]): string {
  const n = new Map<string, number>();
  for (const s of statuses) n.set(s, (n.get(s) ?? 0) + 1);
  return STATUS_ORDER.filter((s) => n.has(s)).map((s) => `${n.get(s)} ${s}`).join(' · ');
}
