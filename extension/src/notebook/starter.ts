/**
 * Cell text the extension writes for the user: the starter notebook of "PEFT: New Notebook", and the
 * pre-filled cell of "Re-run with Changes…" (a finished run's config as YAML, minus defaults and the keys
 * PEFT Studio sets itself, so what is left is what the user chose).
 */
import * as path from 'node:path';
import { Document, isSeq, visit } from 'yaml';
import { EXTENDS_KEY, EXTENDS_PREVIOUS } from './cells';
import type { FileCell, NotebookFile } from './format';
import { defaultLearningRate, flatKey, methodInfo, methodOfConfig } from '../../../protocol/method';
import { HOST_KEYS, isDefault, isMethodSettingKey } from './schema';

const PATH_KEYS = ['model', 'train_file', 'eval_file', 'resume_from_checkpoint'];
/** Keys a re-run must not copy: where the old run went, and the worker's own bookkeeping. */
const DROP = new Set([...HOST_KEYS, 'runs_dir']);

/** YAML for a config: lists inline (`bias_terms: [query, intermediate]`), keys in the given order. */
export function toYaml(config: Record<string, unknown>): string {
  const doc = new Document(config);
  visit(doc, { Seq: (_k, node) => void (isSeq(node) && (node.flow = true)) });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** A path as a cell should show it: relative to the notebook's folder when that is shorter and nearby. */
export function relativePath(p: string, baseDir: string | undefined): string {
  if (!baseDir || !path.isAbsolute(p)) return p;
  const rel = path.relative(baseDir, p) || '.';
  return rel.split(path.sep).filter((s) => s === '..').length <= 2 ? rel.split(path.sep).join('/') : p;
}

/**
 * The method as cells write it: `method: lora` and the settings that differ from their defaults as
 * top-level keys (`lora_r: 16`), whether the config held a `{ name, … }` object or an older flat form.
 */
export function flatMethodKeys(config: Record<string, unknown>): Record<string, unknown> {
  const spec = methodOfConfig(config);
  const out: Record<string, unknown> = { method: spec.name };
  for (const s of methodInfo(spec.name)?.settings ?? []) {
    const v = spec[s.key];
    if (v !== undefined && JSON.stringify(v) !== JSON.stringify(s.default)) out[flatKey(s)] = v;
  }
  return out;
}

/** A run's config → cell text for "Re-run with Changes…". */
export function rerunCellText(config: Record<string, unknown>, label: string, runId: string, baseDir: string | undefined): string {
  const kept: Record<string, unknown> = {};
  const method = flatMethodKeys(config);
  for (const [k, v] of Object.entries(config)) {
    if (k === 'method') {
      Object.assign(kept, method);
      continue;
    }
    if (DROP.has(k) || v === undefined || k in method || isDefault(k, v) || isMethodSettingKey(k)) continue;
    kept[k] = PATH_KEYS.includes(k) && typeof v === 'string' ? relativePath(v, baseDir) : v;
  }
  if (!('method' in config)) Object.assign(kept, method);
  return `# Re-run of "${label}" (${runId}): change what should differ, then run this cell.\n${toYaml(kept)}`;
}

export interface StarterChoice {
  model: string;
  trainFile: string;
  evalFile?: string;
}

/** The methods of the starter notebook, in its order: the baseline, then the PEFT methods it is compared with. */
export const STARTER_METHODS = ['full', 'bitfit', 'lora'];

/**
 * The starter notebook, "which method?": one run cell per method of STARTER_METHODS on the same model and
 * data (the first cell states them, the others `extends: previous` and switch the method, which drops the
 * previous method's settings), then a cell comparing them all. Each method cell writes the settings New Run
 * would ask about, at their defaults, and the method's usual learning rate, all from the method catalog.
 */
export function starterNotebook(choice: StarterChoice, baseDir: string | undefined, newId: () => string): NotebookFile {
  const code = (source: string): FileCell => ({ kind: 'code', id: newId(), language: 'yaml', source });
  const methods = STARTER_METHODS.map((m) => methodInfo(m)).filter((m) => m !== undefined);
  const cells: FileCell[] = methods.map((info, i) => {
    const own: Record<string, unknown> = { method: info.name };
    for (const s of info.settings.filter((x) => x.ask)) own[flatKey(s)] = s.default;
    own.learning_rate = defaultLearningRate(info.name);
    const comment = `# ${info.title}: ${info.description}.`;
    if (i === 0) {
      const first = {
        run_name: info.title,
        model: relativePath(choice.model, baseDir),
        train_file: relativePath(choice.trainFile, baseDir),
        ...(choice.evalFile ? { eval_file: relativePath(choice.evalFile, baseDir) } : { eval_split: 0.1 }),
        ...own,
        num_train_epochs: 3,
        per_device_train_batch_size: 16,
        max_length: 128,
      };
      return code(`${comment}\n${toYaml(first)}`);
    }
    return code(`${comment} Same model, data and schedule as above.\n${EXTENDS_KEY}: ${EXTENDS_PREVIOUS}\n${toYaml({ run_name: info.title, ...own })}`);
  });
  return {
    cells: [
      {
        kind: 'markdown',
        source: [
          '# Which method?',
          '',
          `The same model and data trained ${methods.length > 1 ? `${methods.length} ways: ${methods.map((m) => m.title).join(', ')}` : 'once'}. Run the cells, then the comparison at the end:`,
          'losses overlaid, final metrics side by side, and the settings that differ.',
          '',
          'Each code cell is a training run: a run config in YAML (the keys of a `*.peft.json` file; completion with Ctrl+Space,',
          "including a method's own settings once `method:` is set). Its output shows the loss curve, the metrics and what moved, and is saved in this file.",
          '',
          '`extends: previous` as the first line starts from the nearest run cell above and changes only the keys that follow;',
          "a cell that names another `method` leaves the previous method's settings behind.",
        ].join('\n'),
      },
      ...cells,
      code('# All runs above side by side (or list cell ids: compare: [id1, id2]).\ncompare: all\n'),
    ],
  };
}
