/**
 * The run-config JSON schema (schemas/run-config.schema.json): what VS Code validates `*.peft.json` files
 * with, and what notebook cells are completed and checked against. The general keys are written here; the
 * method part is generated from the engine's TF-free method catalog (engine/peft/catalog.ts), so a method
 * added there appears without an edit here:
 *   - `method`: a method name, or an object `{ name, ...settings }` whose allowed keys depend on `name`;
 *   - every setting's top-level key (its CLI flag in snake_case: `lora_r`, `target_modules`, `bias_terms`),
 *     allowed only with its method (`allOf` of if/then).
 * `npm run gen:schema` writes the file; test/extension/schema.test.ts fails when it is stale.
 */
import { DISTILL_DEFAULTS } from '../engine/distill/config';
import { METHOD_INFOS } from '../engine/peft/catalog';
import { settingSchema } from '../engine/peft/settings';
import type { MethodInfo } from '../engine/peft/types';

export const SCHEMA_FILE = 'schemas/run-config.schema.json';
/** The method of a config that names none (engine/train/config.ts DEFAULTS.method). */
export const DEFAULT_METHOD_NAME = 'bitfit';

type Json = Record<string, unknown>;

/** Every key but the method's, in the order a config file usually has them. */
export const GENERAL_PROPERTIES: Record<string, Json> = {
    $schema: {
      type: "string"
    },
    model: {
      type: "string",
      description: "HuggingFace model folder (config.json, model.safetensors or pytorch_model.bin, vocab.txt or tokenizer.json), or a run folder or checkpoint to start from that run's trained model. Relative to this file."
    },
    init_checkpoint: {
      type: "string",
      description: "A checkpoint of an earlier run whose trained model (merged) and labels this run starts from; set for you when \"model\" names a run folder (its best checkpoint) or a checkpoint."
    },
    train_file: {
      type: "string",
      description: "Training data: .csv, .tsv, .jsonl or .parquet. Relative to this file."
    },
    eval_file: {
      type: "string",
      description: "Evaluation data; without it, eval_split of the training data is held out."
    },
    eval_split: {
      type: "number",
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.1,
      description: "Fraction of the training data held out (seeded) when there is no eval_file; 0 disables evaluation."
    },
    text_column: {
      type: [
        "string",
        "integer"
      ],
      description: "Text column (header name or 0-based index); detected from common names when omitted."
    },
    text_pair_column: {
      type: [
        "string",
        "integer",
        "null"
      ],
      description: "Second sentence column for pair tasks; null: none even if the file has one."
    },
    label_column: {
      type: [
        "string",
        "integer"
      ],
      description: "Label column; integers keep their values, strings map to ids."
    },
    on_bad_row: {
      enum: [
        "fail",
        "skip"
      ],
      default: "fail",
      description: "Malformed rows stop the run (fail) or are left out and reported (skip)."
    },
    output_dir: {
      type: "string",
      description: "Run folder; default <runs_dir>/<timestamp>-<method>-<dataset>."
    },
    run_name: {
      type: "string",
      description: "Display name in the dashboard and the Runs tree (HF's run_name); default: the run folder name."
    },
    runs_dir: {
      type: "string",
      default: "runs",
      description: "Where new run folders go."
    },
    learning_rate: {
      type: "number",
      exclusiveMinimum: 0,
      default: 0.001,
      description: "Peak learning rate (the engine's default whatever the method). Typical: full fine-tuning 2e-5, LoRA 5e-4, BitFit and adapters 1e-3 (the BitFit paper uses 1e-4 to 1e-3), prompt methods 1e-2."
    },
    weight_decay: {
      type: "number",
      minimum: 0,
      default: 0,
      description: "Decoupled weight decay (torch AdamW)."
    },
    adam_beta1: {
      type: "number",
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.9
    },
    adam_beta2: {
      type: "number",
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.999
    },
    adam_epsilon: {
      type: "number",
      exclusiveMinimum: 0,
      default: 1e-8
    },
    lr_scheduler_type: {
      enum: [
        "constant",
        "constant_with_warmup",
        "linear",
        "cosine"
      ],
      default: "linear"
    },
    warmup_steps: {
      type: "integer",
      minimum: 0,
      default: 0
    },
    warmup_ratio: {
      type: "number",
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0,
      description: "Used when warmup_steps is 0: ceil(ratio × total steps)."
    },
    max_grad_norm: {
      type: "number",
      minimum: 0,
      default: 1,
      description: "Global-norm gradient clipping; 0 disables it."
    },
    max_steps: {
      type: "integer",
      minimum: -1,
      default: -1,
      description: "> 0 overrides num_train_epochs."
    },
    num_train_epochs: {
      type: "number",
      exclusiveMinimum: 0,
      default: 3
    },
    per_device_train_batch_size: {
      type: "integer",
      minimum: 1,
      default: 32
    },
    per_device_eval_batch_size: {
      type: "integer",
      minimum: 1,
      default: 64
    },
    per_device_train_micro_batch_size: {
      oneOf: [
        {
          const: "auto"
        },
        {
          type: "integer",
          minimum: 1
        }
      ],
      default: "auto",
      description: "Examples per forward/backward pass within a batch. \"auto\": as many as keep a pass within about 384 MiB of autodiff memory (estimated from the model's shape and the batch's length; less on wasm when its 4 GB heap leaves less). The parts' gradients sum to the whole batch's, so results do not change (dropout masks aside); memory and speed do. Not HF's gradient_accumulation_steps, which sets the effective batch."
    },
    gradient_accumulation_steps: {
      type: "integer",
      minimum: 1,
      default: 1
    },
    seed: {
      type: "integer",
      minimum: 0,
      default: 42,
      description: "Seeds the held-out split, data order, dropout and fresh heads: a run is reproducible."
    },
    max_length: {
      type: "integer",
      minimum: 1,
      default: 128,
      description: "Tokens per example including special tokens; longer inputs are truncated."
    },
    group_by_length: {
      type: "boolean",
      default: true,
      description: "Batch similar lengths together (less padding, faster)."
    },
    eval_strategy: {
      enum: [
        "no",
        "steps",
        "epoch"
      ],
      default: "epoch"
    },
    eval_steps: {
      type: "integer",
      minimum: 1,
      default: 100
    },
    save_steps: {
      type: "integer",
      minimum: 0,
      default: 500,
      description: "Checkpoint every N steps (0: only at the end)."
    },
    save_total_limit: {
      type: "integer",
      minimum: 0,
      default: 2,
      description: "Keep this many recent checkpoints (the best is always kept)."
    },
    bias_change_steps: {
      type: "integer",
      minimum: 1,
      default: 10,
      description: "What-moved (heatmap) summaries every N steps; each reads every trained tensor."
    },
    bias_change_top_k: {
      type: "integer",
      minimum: 0,
      default: 8,
      description: "Most-moved units listed per heatmap cell."
    },
    metric_for_best_model: {
      type: "string",
      description: "Metric ranking checkpoints; default accuracy (classification), pearson_spearman (regression), micro_f1 (multi-label)."
    },
    backend: {
      enum: [
        "auto",
        "tensorflow-gpu",
        "webgpu",
        "tensorflow",
        "wasm",
        "cpu"
      ],
      default: "auto"
    },
    resume_from_checkpoint: {
      type: "string",
      description: "Continue from a checkpoint folder (or a run folder's latest checkpoint)."
    },
    adapter: {
      type: "string",
      description: "Start from a saved adapter folder (HF PEFT, AdapterHub, or export --adapter): its config sets the method and its settings unless this config gives them, its tensors the starting values. Relative to this file."
    }
  };

const flatKeyOf = (flag: string) => flag.replace(/-/g, '_');
/** Every name a config may give these methods: each one's name, then its aliases (AdapterHub's `seq_bn`, …). */
const namesOf = (infos: readonly MethodInfo[]) => infos.flatMap((m) => [m.name, ...(m.aliases ?? [])]);

/** The `distill` block (engine/distill/config.ts): the teacher and the loss mix; `method` is what the student trains with. */
const DISTILL_KEYS: Record<string, Json> = {
  teacher: { type: 'string', description: 'A run folder (its best checkpoint, any method) or a fine-tuned HF model folder. Relative to this file.' },
  student_layers: {
    description: "Teacher layers the student keeps (DistilBERT-style, initialised from the teacher): a count K (every other layer) or a list of layer indices.",
    anyOf: [{ type: 'integer', minimum: 1 }, { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 }],
  },
  student: { type: 'string', description: 'A smaller model folder of the same tokenizer as the student instead (not with student_layers).' },
  temperature: { type: 'number', exclusiveMinimum: 0, default: DISTILL_DEFAULTS.temperature, description: 'Softmax temperature of the distillation loss (scaled by T²).' },
  alpha_kd: { type: 'number', minimum: 0, default: DISTILL_DEFAULTS.alpha_kd, description: "Weight of the teacher's soft targets (KL; MSE for regression)." },
  alpha_task: { type: 'number', minimum: 0, default: DISTILL_DEFAULTS.alpha_task, description: 'Weight of the task loss on the labels.' },
  alpha_cos: { type: 'number', minimum: 0, default: DISTILL_DEFAULTS.alpha_cos, description: "Weight of the cosine loss between the [CLS] hidden states." },
  cache_max_mib: { type: 'number', minimum: 0, default: DISTILL_DEFAULTS.cache_max_mib, description: 'Teacher outputs kept on disk up to this many MiB.' },
};

function methodObjectSchema(infos: readonly MethodInfo[]): Json {
  const distill = {
    if: { properties: { name: { const: 'distill' } }, required: ['name'] },
    then: {
      description: 'Distillation: a teacher, and the method the student trains with (student_method, default full).',
      properties: { name: { const: 'distill' }, student_method: { anyOf: [{ enum: namesOf(infos) }, { $ref: '#/definitions/methodSpec' }], default: 'full', description: 'The method the student trains with.' }, ...DISTILL_KEYS },
      required: ['teacher'],
      additionalProperties: false,
    },
  };
  return {
    type: 'object',
    required: ['name'],
    properties: { name: { enum: [...namesOf(infos), 'distill'], description: 'The method (HF PEFT / AdapterHub names, or their aliases), or distill.' } },
    allOf: [distill, ...infos.map((m) => ({
      if: { properties: { name: { enum: namesOf([m]) } }, required: ['name'] },
      then: {
        description: `${m.title}: ${m.description}`,
        properties: { name: { enum: namesOf([m]) }, ...Object.fromEntries(m.settings.map((s) => [s.key, settingSchema(s)])) },
        additionalProperties: false,
      },
    }))],
  };
}

/** The schema object, built from `infos` (the catalog by default). */
export function buildRunConfigSchema(infos: readonly MethodInfo[] = METHOD_INFOS): Json {
  const names = namesOf(infos);
  const method: Json = {
    description: `Training method: a name (${infos.map((m) => `${m.name} = ${m.title}`).join(', ')}), or an object with "name" and that method's settings. Settings may also be top-level keys (lora_r: 8).`,
    default: DEFAULT_METHOD_NAME,
    anyOf: [{ enum: [...names, 'distill'] }, { $ref: '#/definitions/methodSpec' }],
  };
  // Top-level setting keys: one property per key, allowed only with its methods. A key several methods share
  // (the adapters') names them all, and keeps a default only when they agree on it.
  const flat = new Map<string, { schema: Json; methods: string[]; titles: string[]; description: string }>();
  for (const m of infos) {
    for (const s of m.settings) {
      const key = flatKeyOf(s.flag);
      const had = flat.get(key);
      if (had) {
        had.methods.push(m.name);
        had.titles.push(m.title);
        if (JSON.stringify(had.schema.default) !== JSON.stringify(settingSchema(s).default)) delete had.schema.default;
      } else flat.set(key, { schema: settingSchema(s), methods: [m.name], titles: [m.title], description: s.description });
    }
  }
  for (const f of flat.values()) f.schema = { ...f.schema, description: `${f.titles.join(', ')}: ${f.description}` };
  const properties: Json = {};
  for (const [k, v] of Object.entries(GENERAL_PROPERTIES)) {
    properties[k] = v;
    if (k === 'runs_dir') {
      properties.method = method;
      for (const [key, f] of flat) properties[key] = f.schema;
    }
    if (k === 'adapter') {
      properties.distill = {
        type: 'object',
        description: "Distillation (DistilBERT's recipe): the teacher and the loss mix; the student is `model`, or the teacher's own layers (student_layers), and trains with `method`.",
        properties: DISTILL_KEYS,
        required: ['teacher'],
        additionalProperties: false,
      };
    }
  }
  const isMethod = (name: string): Json => ({
    anyOf: [
      { properties: { method: { enum: namesOf(infos.filter((m) => m.name === name)) } }, required: ['method'] },
      { properties: { method: { type: 'object', properties: { name: { enum: namesOf(infos.filter((m) => m.name === name)) } }, required: ['name'] } }, required: ['method'] },
      ...(name === DEFAULT_METHOD_NAME ? [{ not: { anyOf: [{ required: ['method'] }, { required: ['adapter'] }] } }] : []),
    ],
  });
  const allOf = infos
    .map((m) => {
      const foreign = [...flat].filter(([, f]) => !f.methods.includes(m.name)).map(([key]) => key);
      return foreign.length ? { if: isMethod(m.name), then: { properties: Object.fromEntries(foreign.map((k) => [k, false])) } } : undefined;
    })
    .filter((x) => x !== undefined);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://peft-studio.dev/schemas/run-config.schema.json',
    title: 'PEFT Studio run configuration',
    description: 'Keys follow HuggingFace TrainingArguments names where one exists; method settings follow HF PEFT / AdapterHub. Generated by `npm run gen:schema` from engine/peft/catalog.ts and schemas/run-config.ts.',
    type: 'object',
    required: ['model', 'train_file'],
    additionalProperties: false,
    properties,
    allOf,
    definitions: { methodSpec: methodObjectSchema(infos) },
  };
}

/** The file's text: what `npm run gen:schema` writes and the staleness test compares. */
export function runConfigSchemaText(infos: readonly MethodInfo[] = METHOD_INFOS): string {
  return JSON.stringify(buildRunConfigSchema(infos), null, 2) + '\n';
}
