import * as path from 'node:path';
import { maxTokens } from '../api/model-handle';
import { describeModelSource, resolveModelSource } from '../api/resolve-model-source';
import { initBackend } from '../backend/select';
import { loadDataset } from '../data';
import { PeftStudioError } from '../errors';
import { loadModel } from '../model/load';
import type { EncoderModel } from '../model/model';
import { loadTokenizer } from '../tokenizer';
import { encodeExamples } from '../train/batches';
import { evaluate, taskOf } from '../train/evaluate';
import { loadTrainedModel } from '../train/export';
import { loadModelWithAdapter } from '../api/adapter-model';
import { backendOption, parse, printNotices, UsageError } from './args';

const HELP = `usage: peft-studio eval (--run RUN_DIR [--checkpoint DIR] | --model MODEL_DIR|RUN_DIR|CHECKPOINT [--adapter DIR]) --data FILE [--json]
         [--text-column C] [--text-pair-column C] [--label-column C] [--max-length 128] [--batch-size 64] [--on-bad-row fail|skip]

Evaluates a trained run (its best checkpoint by default) or a model folder on a labelled file: loss and metrics.
`;

export async function evalCommand(argv: string[]): Promise<void> {
  const { values } = parse(
    argv,
    {
      run: { type: 'string' },
      checkpoint: { type: 'string' },
      model: { type: 'string' },
      adapter: { type: 'string' },
      data: { type: 'string' },
      json: { type: 'boolean' },
      'text-column': { type: 'string' },
      'text-pair-column': { type: 'string' },
      'label-column': { type: 'string' },
      'max-length': { type: 'string' },
      'batch-size': { type: 'string' },
      'on-bad-row': { type: 'string' },
      backend: { type: 'string' },
    },
    HELP,
    0,
  );
  if (!values.data) throw new UsageError(`--data is required\n\n${HELP}`);
  if (!values.run === !values.model) throw new UsageError(`give exactly one of --run or --model\n\n${HELP}`);
  // --model may name a run or one of its checkpoints too: the same as --run (with --checkpoint).
  const source = values.model ? resolveModelSource(values.model as string) : undefined;
  if (values.adapter && (values.run || source?.kind === 'run')) throw new UsageError(`--adapter goes with a model folder (a run already knows its method)\n\n${HELP}`);
  await initBackend({ backend: backendOption(values.backend) });
  let model: EncoderModel;
  let modelDir: string;
  let maxLength = Number(values['max-length'] ?? 128);
  if (source?.kind === 'run') printNotices([`evaluating ${describeModelSource(source)}`]);
  if (values.run || source?.kind === 'run') {
    const r = source?.kind === 'run' ? loadTrainedModel(source.runDir, source.checkpoint) : loadTrainedModel(path.resolve(values.run as string), values.checkpoint as string | undefined);
    model = r.model;
    modelDir = r.info.config.model;
    if (values['max-length'] === undefined) maxLength = r.info.config.max_length;
  } else {
    modelDir = path.resolve(values.model as string);
    if (values.adapter) {
      const loaded = loadModelWithAdapter(modelDir, path.resolve(values.adapter as string));
      printNotices([...loaded.notices, ...loaded.adapterNotices]);
      model = loaded.model;
    } else {
      const loaded = loadModel(modelDir, { head: 'sequence-classification' });
      printNotices(loaded.notices);
      model = loaded.model;
    }
  }
  try {
    const col = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : (v as string | undefined));
    const c = model.config;
    const data = await loadDataset(path.resolve(values.data as string), {
      columns: { text: col(values['text-column']), textPair: col(values['text-pair-column']), label: col(values['label-column']) },
      onBadRow: (values['on-bad-row'] as 'fail' | 'skip' | undefined) ?? 'fail',
      labelMap: c.label2id,
      numLabels: c.numLabels,
      task: c.problemType ? taskOf(c.problemType) : undefined,
    });
    if (data.badRows.length) process.stderr.write(`note: skipped ${data.badRows.length} bad rows\n`);
    const tokenizer = await loadTokenizer(modelDir, { modelMaxLength: maxTokens(model) });
    const set = encodeExamples(tokenizer, data.examples, Math.min(maxLength, maxTokens(model)));
    const problem = c.problemType ?? (c.numLabels === 1 ? 'regression' : 'single_label_classification');
    if (taskOf(problem) !== data.task) throw new PeftStudioError('BAD_DATA', `${data.file}: labels look like ${data.task} but the model does ${taskOf(problem)}`);
    const r = await evaluate(model, set, problem, tokenizer.padTokenId, Number(values['batch-size'] ?? 64));
    if (values.json) process.stdout.write(JSON.stringify({ loss: r.loss, metrics: r.metrics, examples: r.examples, seconds: r.seconds }) + '\n');
    else {
      process.stdout.write(`${r.examples} examples in ${r.seconds.toFixed(1)} s\n  loss ${r.loss.toFixed(4)}\n`);
      for (const [k, v] of Object.entries(r.metrics)) process.stdout.write(`  ${k} ${v.toFixed(4)}\n`);
    }
  } finally {
    model.dispose();
  }
}
