/**
 * Run configs (`*.peft.json`, `train --config`) and experiment notebooks (`.peftnb`): a config that resolves
 * must hold numbers of the right type and range everywhere; a notebook either parses or is refused, its cells
 * report problems instead of throwing, and a resolved cell's config goes through the same resolver.
 */
import { DEFAULTS, methodSettingKeys, resolveRunConfig, type RunConfig } from '../../../engine/train/config';
import { parseCell, resolveCell } from '../../../extension/src/notebook/cells';
import { parseNotebook } from '../../../extension/src/notebook/format';
import { check, type FuzzKind, type Rand } from '../harness';
import { breakJsonText, hostileValue, mutateJson } from '../mutate';

const BASE = { model: 'models/tiny', train_file: 'data/train.tsv', learning_rate: 1e-3, num_train_epochs: 3, per_device_train_batch_size: 16, bias_terms: ['all'], max_length: 128 };
const KEYS = [...Object.keys(DEFAULTS), ...methodSettingKeys().keys(), 'method', 'model', 'train_file', 'eval_file', 'text_column', 'text_pair_column', 'label_column', 'output_dir', 'run_name', 'metric_for_best_model', 'resume_from_checkpoint'];

/** What a resolved config must satisfy for the trainer to use it without further checks. */
export function checkRunConfig(c: RunConfig): void {
  const numeric = Object.entries(DEFAULTS).filter(([, v]) => typeof v === 'number').map(([k]) => k as keyof RunConfig);
  for (const k of numeric) check(typeof c[k] === 'number' && Number.isFinite(c[k] as number), `${k} = ${JSON.stringify(c[k])}`);
  for (const k of ['learning_rate', 'per_device_train_batch_size', 'per_device_eval_batch_size', 'gradient_accumulation_steps', 'max_length', 'num_train_epochs'] as const) {
    check(c[k] > 0, `${k} = ${c[k]}`);
  }
  for (const k of ['per_device_train_batch_size', 'gradient_accumulation_steps', 'max_length', 'save_steps', 'seed', 'warmup_steps'] as const) check(Number.isSafeInteger(c[k]), `${k} = ${c[k]}`);
  check(typeof c.model === 'string' && typeof c.train_file === 'string', 'paths');
  const m = c.method as unknown as Record<string, unknown>;
  check(typeof m === 'object' && m !== null && typeof m.name === 'string', `method ${JSON.stringify(m)}`);
  for (const [k, v] of Object.entries(m)) {
    if (Array.isArray(v)) check(v.every((t) => typeof t === 'string' && t !== ''), `method.${k} ${JSON.stringify(v)}`);
    if (typeof v === 'number') check(Number.isFinite(v), `method.${k} ${v}`);
  }
  for (const k of ['eval_file', 'output_dir', 'resume_from_checkpoint', 'run_name', 'metric_for_best_model'] as const) check(c[k] === undefined || typeof c[k] === 'string', `${k} ${JSON.stringify(c[k])}`);
  for (const k of ['text_column', 'label_column'] as const) check(c[k] === undefined || typeof c[k] === 'string' || Number.isSafeInteger(c[k]), `${k} ${JSON.stringify(c[k])}`);
  check(c.text_pair_column === undefined || c.text_pair_column === null || typeof c.text_pair_column === 'string' || Number.isSafeInteger(c.text_pair_column), 'text_pair_column');
  check(typeof c.group_by_length === 'boolean', `group_by_length ${JSON.stringify(c.group_by_length)}`);
}

export const runConfigKind: FuzzKind = {
  name: 'run config',
  cases: 1200,
  make(rand) {
    const raw = rand.chance(0.03) ? BASE : mutateJson(BASE, rand, KEYS);
    return {
      label: JSON.stringify(raw)?.slice(0, 200) ?? String(raw),
      run: () => checkRunConfig(resolveRunConfig(raw as Record<string, unknown>, '/fuzz/project')),
    };
  },
};

const CELLS = [
  'learning_rate: 1e-3\nnum_train_epochs: 2\nbias_terms: [all]',
  'extends: previous\nlearning_rate: 4e-4',
  'compare: all',
  'model: ../m\ntrain_file: train.tsv\nper_device_train_batch_size: 8',
];

function cellSource(rand: Rand): string {
  let s = rand.pick(CELLS);
  switch (rand.int(6)) {
    case 0:
      return s;
    case 1:
      return `${s}\n${rand.pick(KEYS)}: ${JSON.stringify(hostileValue(rand))}`;
    case 2:
      return breakJsonText(s, rand);
    case 3:
      return rand.pick(['- a\n- b', '"just a string"', 'a: [1, 2', 'a: 1\na: 2', ': :', '&a [*a]', '!!binary x', 'extends: [previous]', 'compare: 5', '{{', 'null', '']);
    case 4:
      s = `${s}\n${'  '.repeat(rand.int(3))}${rand.pick(['learning_rate', 'extends', 'compare', 'bias_terms'])}: ${rand.pick(['null', '~', '[]', '{}', '1e999', '-.inf', '.nan', '0x10', '"1e-3"', 'yes'])}`;
      return s;
    default:
      return `# a comment\n${s}`;
  }
}

export const notebookKind: FuzzKind = {
  name: 'notebook (.peftnb)',
  cases: 800,
  make(rand) {
    const cells = Array.from({ length: 1 + rand.int(4) }, (_, i) =>
      rand.chance(0.2) ? { kind: 'markdown', source: ['# note\n'] } : { kind: 'code', id: `c${i}x${rand.int(1000)}`, language: rand.pick(['yaml', 'json']), source: cellSource(rand).split(/(?<=\n)/) },
    );
    const nb = { format: 'peft-studio-notebook', version: 1, cells };
    const text = rand.chance(0.3) ? JSON.stringify(mutateJson(nb, rand, ['format', 'version', 'cells', 'kind', 'id', 'source', 'outputs', 'execution', 'language'])) : rand.chance(0.1) ? breakJsonText(JSON.stringify(nb), rand) : JSON.stringify(nb);
    return {
      label: text.slice(0, 200),
      run() {
        const file = parseNotebook(text);
        const parsed = file.cells.filter((c) => c.kind === 'code').map((c) => parseCell(c.source));
        parsed.forEach((p, i) => {
          check(Array.isArray(p.problems), 'problems');
          const r = resolveCell(parsed, i);
          if (r.ok && p.kind === 'run' && p.problems.length === 0) {
            // What executing the cell does next (paths relative to the notebook's folder).
            checkRunConfig(resolveRunConfig({ model: 'm', train_file: 't.tsv', ...r.config } as Record<string, unknown>, '/fuzz/notebooks'));
          }
        });
      },
    };
  },
};
