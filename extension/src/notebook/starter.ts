/**
 * Cell text the extension writes for the user: the starter notebook of "PEFT: New Notebook", and the
 * pre-filled cell of "Re-run with Changes…" (a finished run's config as YAML, minus defaults and the keys
 * PEFT Studio sets itself, so what is left is what the user chose).
 */
import * as path from 'node:path';
import { Document, isSeq, visit } from 'yaml';
import { EXTENDS_KEY, EXTENDS_PREVIOUS } from './cells';
import type { FileCell, NotebookFile } from './format';
import { HOST_KEYS, isDefault } from './schema';

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

/** A run's config → cell text for "Re-run with Changes…". */
export function rerunCellText(config: Record<string, unknown>, label: string, runId: string, baseDir: string | undefined): string {
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (DROP.has(k) || v === undefined || isDefault(k, v)) continue;
    kept[k] = PATH_KEYS.includes(k) && typeof v === 'string' ? relativePath(v, baseDir) : v;
  }
  return `# Re-run of "${label}" (${runId}): change what should differ, then run this cell.\n${toYaml(kept)}`;
}

export interface StarterChoice {
  model: string;
  trainFile: string;
  evalFile?: string;
}

/**
 * The starter notebook. The higher-lr cell sits right under the cell it varies because `extends: previous`
 * inherits from the nearest run cell above; the sparse cell then states its own lr.
 */
export function starterNotebook(choice: StarterChoice, baseDir: string | undefined, newId: () => string): NotebookFile {
  const data: Record<string, unknown> = {
    run_name: 'all biases',
    model: relativePath(choice.model, baseDir),
    train_file: relativePath(choice.trainFile, baseDir),
    ...(choice.evalFile ? { eval_file: relativePath(choice.evalFile, baseDir) } : { eval_split: 0.1 }),
    method: 'bitfit',
    bias_terms: ['all'],
    train_head: true,
    learning_rate: 0.001,
    num_train_epochs: 3,
    per_device_train_batch_size: 16,
    max_length: 128,
  };
  const code = (source: string): FileCell => ({ kind: 'code', id: newId(), language: 'yaml', source });
  return {
    cells: [
      {
        kind: 'markdown',
        source: [
          '# BitFit experiments',
          '',
          'Each code cell is a training run: a run config in YAML (the keys of a `*.peft.json` file; completion with Ctrl+Space).',
          'Run a cell to train it; its output shows the loss curve, the metrics and which biases moved, and is saved in this file.',
          '',
          '`extends: previous` as the first line starts from the nearest run cell above and changes only the keys that follow.',
          'Select cells and run **PEFT: Compare Cells** to overlay their losses and list the settings that differ.',
        ].join('\n'),
      },
      code(`# BitFit (Ben Zaken et al., 2022): train every bias term plus the classifier head.\n${toYaml(data)}`),
      code(
        `# Same as above with a 4x higher learning rate: only the keys that change.\n${EXTENDS_KEY}: ${EXTENDS_PREVIOUS}\nrun_name: all biases, lr 4e-3\nlearning_rate: 0.004\n`,
      ),
      code(
        `# The paper's sparse variant: only the query (q) and intermediate (m2) biases, ~0.04% of BERT-base.\n${EXTENDS_KEY}: ${EXTENDS_PREVIOUS}\nrun_name: q + m2 (sparse)\nbias_terms: [sparse]\nlearning_rate: 0.001\n`,
      ),
    ],
  };
}
