import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { PeftStudioError } from '../errors';
import { METHOD_INFOS } from '../peft/catalog';
import { settingFromFlag } from '../peft/settings';
import type { SettingSpec } from '../peft/types';
import { DEFAULTS, resolveRunConfig, type RunConfig } from '../train/config';
import { parseControlLine, TrainingControl } from '../train/control';
import { train } from '../train/trainer';
import { encodeEvent, type RunEvent } from '../protocol/events';
import { parse, UsageError } from './args';
import { ProgressView } from './progress';
import { resolveModelArg } from './model-arg';

/** CLI flag → run-config key. Flags are HF TrainingArguments names in kebab case. */
const NUMBER_FLAGS = [
  'learning-rate', 'weight-decay', 'adam-beta1', 'adam-beta2', 'adam-epsilon', 'warmup-steps', 'warmup-ratio', 'max-grad-norm',
  'max-steps', 'num-train-epochs', 'per-device-train-batch-size', 'per-device-eval-batch-size', 'gradient-accumulation-steps',
  'seed', 'max-length', 'eval-steps', 'save-steps', 'save-total-limit', 'bias-change-steps', 'eval-split',
] as const;
const STRING_FLAGS = ['lr-scheduler-type', 'eval-strategy', 'text-column', 'text-pair-column', 'label-column', 'on-bad-row', 'metric-for-best-model', 'backend', 'resume-from-checkpoint', 'runs-dir', 'per-device-train-micro-batch-size'] as const;

/** Every method setting's flag, once (methods may share one, e.g. --num-virtual-tokens). */
const METHOD_FLAGS: Map<string, SettingSpec> = new Map(METHOD_INFOS.flatMap((m) => m.settings.map((s) => [s.flag, s] as [string, SettingSpec])));

function methodHelp(): string {
  return METHOD_INFOS.map((m) => {
    const settings = m.settings.map((s) => `--${s.flag} ${s.type === 'enum' ? s.values!.join('|') : JSON.stringify(s.default)}`).join('  ');
    return `  ${m.name.padEnd(17)} ${m.description}${settings ? `\n${' '.repeat(20)}${settings}` : ''}`;
  }).join('\n');
}

export const TRAIN_HELP = `usage: peft-studio train --model DIR|RUN_DIR|CHECKPOINT --train FILE [--eval FILE] [--method NAME [method flags]] [--out RUN_DIR] [options]
       peft-studio train --model DIR --adapter ADAPTER_DIR --train FILE …   (continue from a saved PEFT / AdapterHub adapter)
       peft-studio train --config run.json [options overriding the file]

Trains with a method (default ${DEFAULTS.method}) and writes <run>/config.json, events.jsonl, checkpoints/.
Methods (--method) and their settings (defaults shown):
${methodHelp()}
Flags use HuggingFace TrainingArguments names:
  --learning-rate ${DEFAULTS.learning_rate}   --weight-decay ${DEFAULTS.weight_decay}   --lr-scheduler-type constant|linear|cosine|constant_with_warmup (${DEFAULTS.lr_scheduler_type})
  --warmup-steps N | --warmup-ratio R   --max-grad-norm ${DEFAULTS.max_grad_norm} (0 = no clipping)
  --max-steps N | --num-train-epochs ${DEFAULTS.num_train_epochs}   --per-device-train-batch-size ${DEFAULTS.per_device_train_batch_size}   --gradient-accumulation-steps 1
  --per-device-train-micro-batch-size auto|N (rows per forward/backward pass; auto fits the backend's memory)
  --seed ${DEFAULTS.seed}   --max-length ${DEFAULTS.max_length}   --eval-strategy epoch|steps|no   --eval-steps N   --save-steps ${DEFAULTS.save_steps}
Data: --text-column C --text-pair-column C --label-column C (names or 0-based indices; detected when omitted)
      --eval-split ${DEFAULTS.eval_split} (held out when there is no --eval)   --on-bad-row fail|skip
BitFit: --bias-terms all | sparse | query,intermediate,… | 'glob*' | /regex/   --no-train-head
--model RUN_DIR or CHECKPOINT starts from that run's trained model (its best checkpoint, merged) and labels.
Other: --adapter DIR (start from a saved adapter; its config sets the method)   --resume-from-checkpoint DIR   --backend NAME   --json (events as JSON lines on stdout)   --control stdin
Ctrl-C stops gracefully (a checkpoint is written); a second Ctrl-C exits at once.
`;

export const DISTILL_HELP = `usage: peft-studio distill --teacher RUN_DIR|MODEL_DIR --train FILE [--eval FILE]
         [--student-layers K|0,2,4 | --student MODEL_DIR] [--method full|bitfit|lora … [method flags]]
         [--temperature 2] [--alpha-kd 0.5] [--alpha-task 0.5] [--alpha-cos 0] [--out RUN_DIR] [train options]

Distils a trained teacher (a run folder: its best checkpoint, any method; or an HF fine-tuned folder) into a
smaller student, DistilBERT's task-specific way: loss = alpha_kd · T² · KL(teacher ‖ student at temperature T)
+ alpha_task · task loss + alpha_cos · (1 − cos of the [CLS] states). The student is the teacher's own layers
(every other one by default: half the depth, embeddings and head copied) or --student, a model folder of the
same tokenizer. It trains fully (--method full, the default) or with any method. Teacher outputs are computed
once and cached under <runs_dir>/.teacher-cache. With --alpha-task 0 the training file needs no labels.
Then: peft-studio export RUN_DIR --merged OUT writes the student as a plain HF model folder.
Train options: see peft-studio train --help.
`;

/** `distill`: `train` with a teacher. */
export async function distillCommand(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(DISTILL_HELP);
    return;
  }
  if (!argv.some((a) => a === '--teacher' || a.startsWith('--teacher='))) throw new UsageError(`--teacher is required\n\n${DISTILL_HELP}`);
  return trainCommand(argv, true);
}

export async function trainCommand(argv: string[], distilling = false): Promise<void> {
  const options = {
    teacher: { type: 'string' },
    student: { type: 'string' },
    'student-layers': { type: 'string' },
    temperature: { type: 'string' },
    'alpha-kd': { type: 'string' },
    'alpha-task': { type: 'string' },
    'alpha-cos': { type: 'string' },
    config: { type: 'string' },
    model: { type: 'string' },
    train: { type: 'string' },
    eval: { type: 'string' },
    out: { type: 'string' },
    method: { type: 'string' },
    adapter: { type: 'string' },
    ...Object.fromEntries([...METHOD_FLAGS.keys()].map((f) => [f, { type: 'string' }])),
    'no-train-head': { type: 'boolean' },
    'no-group-by-length': { type: 'boolean' },
    json: { type: 'boolean' },
    control: { type: 'string' },
    ...Object.fromEntries(NUMBER_FLAGS.map((f) => [f, { type: 'string' }])),
    ...Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: 'string' }])),
  } as const;
  const { values } = parse(argv, options, distilling ? DISTILL_HELP : TRAIN_HELP, 0);
  if (typeof values.model === 'string') values.model = await resolveModelArg(values.model);
  const config = buildConfig(values);
  const control = new TrainingControl();
  const detach = attachControl(control, values.control as string | undefined);
  const view = values.json ? undefined : new ProgressView();
  let result;
  try {
    result = await train(config, {
      control,
      // encodeEvent, as events.jsonl: a NaN or Infinity (an eval loss in a blow-up) stays a number for decodeEvent.
      onEvent: (e: RunEvent) => (values.json ? process.stdout.write(encodeEvent(e) + '\n') : view!.onEvent(e)),
    });
  } finally {
    view?.close();
    detach(); // an open stdin or IPC channel would otherwise keep the finished process alive
  }
  if (result.status === 'failed') {
    // The progress view has already printed why; with --json stdout carries the event, stderr the reason.
    if (values.json) process.stderr.write(`error: ${result.reason ?? 'training failed'}\n`);
    process.exitCode = 1;
    return;
  }
  if (result.status === 'stopped') {
    // 130 (128 + SIGINT), as shells report an interrupted command. main() sets the exit code from the
    // command's return (0), which would hide the stop, so end here once stdout and stderr are flushed.
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(130);
  }
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

function buildConfig(values: Record<string, string | boolean | undefined>): RunConfig {
  let base: Record<string, unknown> = {};
  let baseDir = process.cwd();
  if (typeof values.config === 'string') {
    const file = path.resolve(values.config);
    try {
      base = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new PeftStudioError('BAD_INPUT', `${file}: cannot read run config (${(e as Error).message})`, file);
    }
    baseDir = path.dirname(file); // relative paths in a config file are relative to the file
  }
  const flags: Record<string, unknown> = {};
  const key = (flag: string) => flag.replace(/-/g, '_');
  for (const f of NUMBER_FLAGS) {
    const v = values[f];
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${f} expects a number, got "${v}"`);
    flags[key(f)] = n;
  }
  for (const f of STRING_FLAGS) if (values[f] !== undefined) flags[key(f)] = values[f];
  const micro = flags.per_device_train_micro_batch_size;
  if (typeof micro === 'string' && micro !== 'auto') {
    if (!/^\d+$/.test(micro)) throw new UsageError(`--per-device-train-micro-batch-size expects auto or a whole number, got "${micro}"`);
    flags.per_device_train_micro_batch_size = Number(micro);
  }
  for (const f of ['text_column', 'text_pair_column', 'label_column']) {
    if (typeof flags[f] === 'string' && /^\d+$/.test(flags[f] as string)) flags[f] = Number(flags[f]);
  }
  if (values.model) flags.model = path.resolve(values.model as string);
  if (values.train) flags.train_file = path.resolve(values.train as string);
  if (values.eval) flags.eval_file = path.resolve(values.eval as string);
  if (values.out) flags.output_dir = path.resolve(values.out as string);
  if (values.method) flags.method = values.method;
  if (values.adapter) flags.adapter = path.resolve(values.adapter as string);
  for (const [flag, spec] of METHOD_FLAGS) {
    const v = values[flag];
    if (v === undefined) continue;
    flags[key(flag)] = flag === 'bias-terms' ? splitTerms(v as string) : settingFromFlag(spec, v as string);
  }
  if (values['no-train-head']) flags.train_head = false;
  if (values['no-group-by-length']) flags.group_by_length = false;
  if (values.teacher !== undefined) {
    const num = (f: string) => {
      const v = values[f];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new UsageError(`--${f} expects a number, got "${v}"`);
      return n;
    };
    const layers = values['student-layers'] as string | undefined;
    flags.distill = {
      ...((base.distill as Record<string, unknown> | undefined) ?? {}),
      teacher: path.resolve(values.teacher as string),
      ...(values.student !== undefined ? { student: path.resolve(values.student as string) } : {}),
      ...(layers !== undefined ? { student_layers: layers.includes(',') ? layers.split(',').map(Number) : Number(layers) } : {}),
      ...Object.fromEntries(['temperature', 'alpha-kd', 'alpha-task', 'alpha-cos'].map((f) => [f.replace(/-/g, '_'), num(f)]).filter(([, v]) => v !== undefined)),
    };
  }
  if (!base.model && !flags.model && !flags.distill && !base.distill) throw new UsageError(`--model (or "model" in --config) is required\n\n${TRAIN_HELP}`);
  if (!base.train_file && !flags.train_file) throw new UsageError(`--train (or "train_file" in --config) is required\n\n${TRAIN_HELP}`);
  // Paths in the file are resolved against its folder by resolveRunConfig; flags are already absolute.
  return resolveRunConfig({ ...base, ...flags } as Record<string, unknown>, baseDir);
}

/** Commas separate terms, except inside a /regex/ (which may contain commas itself). */
export function splitTerms(s: string): string[] {
  if (s.startsWith('/') && s.lastIndexOf('/') > 0 && !s.includes('/,')) return [s];
  return s.split(',').map((t) => t.trim()).filter(Boolean);
}

/**
 * Wires signals, IPC messages and (with `--control stdin`) stdin lines to `control` (a run's, or a study's);
 * returns a detach function. `stopping` is what a first Ctrl-C says.
 */
export function attachControl(
  control: Pick<TrainingControl, 'send'>,
  mode: string | undefined,
  stopping = 'stopping after this step and writing a checkpoint (again to quit at once)',
): () => void {
  if (mode !== undefined && mode !== 'stdin') throw new UsageError(`--control expects "stdin"`);
  let interrupts = 0;
  const onSignal = (sig: string) => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(`\n${sig}: ${stopping}\n`);
    control.send('stop', `interrupted (${sig})`);
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  // IPC from a parent process (the extension's run manager), when there is one.
  const onMessage = (m: unknown) => {
    const cmd = typeof m === 'object' && m !== null ? parseControlLine(JSON.stringify(m)) : undefined;
    if (cmd) control.send(cmd);
  };
  process.on('message', onMessage);
  let rl: readline.Interface | undefined;
  if (mode === 'stdin') {
    rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const cmd = parseControlLine(line);
      if (cmd) control.send(cmd);
    });
  }
  return () => {
    // Signals stay handled (a late Ctrl-C still exits cleanly); stdin and IPC stop holding the process open.
    process.off('message', onMessage);
    if (rl) {
      rl.close();
      process.stdin.pause();
    }
  };
}
