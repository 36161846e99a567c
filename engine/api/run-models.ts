/**
 * A finished (or stopped) run as something to predict with: the trained model (base + the checkpoint's
 * tensors, exactly as `eval` and `export` load it) next to the base model the run started from (same labels,
 * same seeded fresh head), sharing one tokenizer. Both are `ModelHandle`s, so `predict` gives the numbers
 * the CLI's `predict` prints for the run's merged export and for the base folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendName, type BackendReport } from '../backend/select';
import { PeftStudioError } from '../errors';
import { resolveColumns } from '../data/columns';
import { formatFromExtension } from '../data/load';
import type { RawTable } from '../data/table';
import { resolveProblemType, type ProblemType } from '../model/config';
import { loadTokenizer } from '../tokenizer';
import type { RunConfig } from '../train/config';
import { resolveCheckpoint } from '../train/checkpoint';
import { loadRunBaseModel, loadTrainedModel, type RunInfo, type SharedBases } from '../train/export';
import { maxTokens, openModel, type ModelHandle } from './model-handle';
import { describeModelSource, resolveModelSource, type ModelSource } from './resolve-model-source';

export interface RunModels {
  info: RunInfo;
  checkpoint: string;
  /** Which checkpoint that is and why: "run R, checkpoint step-00000125 (its best: accuracy 0.7100)". */
  used: string;
  /** Step of the checkpoint the trained model comes from. */
  step: number;
  trained: ModelHandle;
  base: ModelHandle;
  problem: ProblemType;
  /** Class names by id (empty for regression). */
  labels: string[];
  /** Whether the run trained on sentence pairs (its data has a second text column). */
  pair: boolean;
}

/**
 * `runDir` may also be one of the run's checkpoint folders: then that checkpoint, unless `checkpoint` names
 * another. `shared`: open the two models over an encoder shared with other runs on the same base model (the
 * predict worker switching between a base's task adapters): each run then costs its head and method tensors only.
 */
export async function openRunModels(runDir: string, opts: { checkpoint?: string; backend?: BackendName | 'auto'; shared?: SharedBases } = {}): Promise<RunModels> {
  const backend: BackendReport = await initBackend({ backend: opts.backend });
  let source = resolveModelSource(runDir);
  if (source.kind === 'run') {
    if (opts.checkpoint) source = { ...source, checkpoint: resolveCheckpoint(opts.checkpoint), chosen: 'given' };
    runDir = source.runDir;
  }
  const t = loadTrainedModel(runDir, source.kind === 'run' ? source.checkpoint : opts.checkpoint, opts.shared);
  let base: ReturnType<typeof loadRunBaseModel> | undefined;
  try {
    base = loadRunBaseModel(t.info, opts.shared);
    const tokenizer = await loadTokenizer(t.info.config.model, { modelMaxLength: maxTokens(t.model) });
    const c = t.model.config;
    const problem = resolveProblemType(c);
    const notices = base.initialized.length ? [`the base model has no trained head (${base.initialized.join(', ')}): its predictions come from a freshly initialised one`] : [];
    return {
      info: t.info,
      checkpoint: t.checkpoint,
      used: describeModelSource(source.kind === 'run' ? source : { kind: 'run', runDir, checkpoint: t.checkpoint, chosen: 'given' }),
      step: (JSON.parse(fs.readFileSync(path.join(t.checkpoint, 'state.json'), 'utf8')) as { step: number }).step,
      trained: { dir: runDir, model: t.model, tokenizer, backend, notices: [] },
      base: { dir: t.info.config.model, model: base.model, tokenizer, backend, notices },
      problem,
      labels: problem === 'regression' ? [] : Array.from({ length: c.numLabels }, (_, i) => c.id2label[i] ?? String(i)),
      pair: await isPairData(t.info.config),
    };
  } catch (e) {
    t.model.dispose();
    base?.model.dispose();
    throw e;
  }
}

/**
 * A model to predict with from any model argument (`predict`): a model folder as it is, a run or checkpoint
 * as the run's trained model with its base model's tokenizer; `used` says which checkpoint that is.
 */
export async function openModelSource(p: string, opts: { backend?: BackendName | 'auto'; adapter?: string } = {}): Promise<ModelHandle & { source: ModelSource; used?: string }> {
  const source = resolveModelSource(p);
  if (source.kind === 'model') return { ...(await openModel(source.dir, { backend: opts.backend, adapter: opts.adapter })), source };
  if (opts.adapter) throw new PeftStudioError('BAD_INPUT', `${p}: a run already has its method and trained tensors; an adapter goes on a model folder`, p);
  const backend = await initBackend({ backend: opts.backend });
  const t = loadTrainedModel(source.runDir, source.checkpoint);
  try {
    const tokenizer = await loadTokenizer(t.info.config.model, { modelMaxLength: maxTokens(t.model) });
    return { dir: source.runDir, model: t.model, tokenizer, backend, notices: [], source, used: describeModelSource(source) };
  } catch (e) {
    t.model.dispose();
    throw e;
  }
}

export function disposeRunModels(r: RunModels): void {
  r.trained.model.dispose();
  r.base.model.dispose();
}

/**
 * Whether the run's training file has a second text column, decided the way the trainer decided it (the
 * run's own column settings, else the usual names) from the header alone: a large dataset is not parsed
 * again just to lay out a text box. Anything unreadable counts as "not a pair" — the box can still be added.
 */
export async function isPairData(config: Pick<RunConfig, 'train_file' | 'text_column' | 'text_pair_column'>): Promise<boolean> {
  if (config.text_pair_column === null) return false;
  if (config.text_pair_column !== undefined) return true;
  try {
    const names = await headerOf(config.train_file);
    if (!names) return false;
    const table: RawTable = { columnNames: names, columnCount: names.length, keyedBy: 'name', rows: [], badRows: [] };
    return resolveColumns(config.train_file, table, { text: config.text_column, textPair: config.text_pair_column }, false).keys.textPair !== undefined;
  } catch {
    return false;
  }
}

/** Column names from the first line (CSV/TSV header, first JSONL object); undefined for Parquet. */
async function headerOf(file: string): Promise<string[] | undefined> {
  const format = formatFromExtension(file);
  if (format === 'parquet') return undefined;
  const fd = await fs.promises.open(path.resolve(file), 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fd.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
    const first = text.split('\n').find((l) => l.trim() !== '')?.replace(/\r$/, '') ?? '';
    if (format === 'jsonl') return Object.keys(JSON.parse(first) as object);
    // Header names rarely need quoting; strip the quotes a CSV writer may have put around them anyway.
    return first.split(format === 'tsv' ? '\t' : ',').map((n) => n.trim().replace(/^"(.*)"$/, '$1'));
  } finally {
    await fd.close();
  }
}
