/**
 * The contract every training method meets: BitFit, LoRA, bottleneck adapters, the prompt family, full
 * fine-tuning. A method
 *  - chooses what trains: existing tensors turned into variables, and new tensors it adds (LoRA's A and B,
 *    adapter layers, prompt embeddings), each under the name its saved files use;
 *  - takes part in the forward pass only through the model's typed hooks (model/hooks.ts);
 *  - says what moved, as a grid of rows (embeddings, layer 0 … L−1, pooler, classifier) × its own columns;
 *  - saves, restores, merges and exports itself.
 * The trainer, checkpoints, exports and the dashboard see only this interface. Most of it is implemented
 * once in `base.ts`; a method folder holds its settings, its hooks and its file format.
 */
import type { tf } from '../backend/tf';
import type { EncoderModel } from '../model/model';
import type { ChangeEvent } from '../protocol/events';
import type { Tokenizer } from '../tokenizer/types';

/** A tensor's values on the host, by name: what checkpoints and adapter files hold. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
export type HostTensors = Map<string, HostTensor>;

export interface TrainableSummary {
  trainable: number;
  total: number;
  percent: number;
  /** Trainable tensor names and why each was chosen (`group "query"`, `task head`, `LoRA A of …`). */
  tensors: Array<{ name: string; size: number; why: string }>;
}

/** One setting of a method: its key in run configs (snake_case), its CLI flag, type, default and help. */
export interface SettingSpec {
  key: string;
  /** CLI flag without the dashes (`lora-r`). */
  flag: string;
  type: 'integer' | 'number' | 'boolean' | 'string' | 'list' | 'enum';
  /** Allowed values of an enum (and of list items, when given). */
  values?: readonly string[];
  default: unknown;
  description: string;
  /** Bounds for numbers: min ≤ x (or min < x when exclusiveMin), x < max (exclusiveMax) or ≤ max. */
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
  exclusiveMax?: boolean;
  /** New Run asks for this one (the rest keep their defaults unless a config file sets them). */
  ask?: boolean;
  /** A list setting may also be one of these words (`all-linear`). */
  words?: readonly string[];
}

export interface MethodInfo {
  name: string;
  /** Shown in pickers and tables: "LoRA", "BitFit". */
  title: string;
  /** One line for New Run's picker and the CLI's help. */
  description: string;
  settings: SettingSpec[];
  /** Whether a trained result folds into the base weights (`export --merged`); a string says why not. */
  merge: true | string;
  /** The reference library whose files `export --adapter` writes and `--adapter` reads, if any. */
  adapterFormat?: 'peft' | 'adapterhub';
  /** Other names the method is known by (AdapterHub's `seq_bn` for `pfeiffer`); `--method` takes them too. */
  aliases?: readonly string[];
}

/** Settings of a method as a run config holds them: `{ name: 'lora', r: 8, lora_alpha: 16, … }`. */
export interface MethodSpec {
  name: string;
  [key: string]: unknown;
}

export interface ApplyContext {
  /** The run's seed: new tensors are initialised from it, so a run is reproducible. */
  seed: number;
  /** The model's tokenizer (prompt tuning's TEXT init needs it). */
  tokenizer?: Tokenizer;
  /** Notices for the user (what was chosen, what was skipped). */
  notices: string[];
  /** False when the model is opened to predict, evaluate or export: no start values are kept for the what-moved grid. */
  training?: boolean;
  /** The run's longest input in tokens (virtual tokens must fit beside it in the position embeddings). */
  maxLength?: number;
}

/** Rows and columns of the what-moved grid, known before the first report. */
export interface ChangeLayout {
  rows: string[];
  columns: string[];
  /** What a cell's number is, for the legend: `mean |Δb|`, `‖ΔW‖F / ‖W‖F`. */
  measure: string;
}

export interface AdapterExport {
  dir: string;
  files: string[];
  bytes: number;
}

/** What an adapter export is told about the run (for its config file). */
export interface AdapterExportContext {
  baseModel: string;
  /** Label names by id, for the head's config. */
  id2label: Record<string, string>;
  problemType: string;
}

export interface PeftMethod {
  readonly name: string;
  /** Resolved settings (every default filled in), as a run config stores them. */
  readonly spec: MethodSpec;
  /** Chooses and creates the trainable tensors and registers the method's hooks. Call once. */
  apply(model: EncoderModel, ctx?: ApplyContext): void;
  /** The trainable variables by name: the only tensors that get gradients and optimizer state. */
  trainable(): Map<string, tf.Variable>;
  describe(): TrainableSummary;
  /** Current values of every trainable tensor (what a checkpoint stores). */
  exportTensors(): Promise<HostTensors>;
  /**
   * Restores tensors saved by `exportTensors` (or read from an adapter file); checks every name and shape
   * before changing anything. `dryRun`: only check. `partial`: tensors it may lack (they keep their values).
   */
  loadTensors(tensors: HostTensors, source: string, opts?: { dryRun?: boolean; partial?: (name: string) => boolean }): void;
  /**
   * Loads tensors as the reference library saved them when they are not this method's trainable tensors
   * (PEFT saves only the output of P-tuning's prompt encoder); returns notices saying how it continues.
   * Absent: the saved tensors are the trainable ones (`loadTensors`).
   */
  loadAdapterTensors?(tensors: HostTensors, source: string): string[];
  changeLayout(): ChangeLayout;
  /** The what-moved grid now, against the values at `apply` (or at `markStart`). */
  changeReport(step: number, topK: number): Promise<ChangeEvent>;
  /** Takes the current values as the "start" of the what-moved measure (after loading a checkpoint). */
  markStart(): Promise<void>;
  /**
   * Folds the method into the model's own weights and removes its hooks and extra tensors (LoRA's
   * merge_and_unload). Throws UNSUPPORTED, with the reason, for methods that cannot be merged.
   */
  merge(): void;
  /**
   * A trainable tensor's name in the reference library's in-memory model (`PeftModel.named_parameters()`:
   * `base_model.model.….lora_A.default.weight`), as `trainable_init.safetensors` holds it. Absent: ours.
   */
  libraryName?(name: string): string;
  /** Writes the reference library's files (PEFT or AdapterHub); absent for methods that have none. */
  exportAdapter?(outDir: string, ctx: AdapterExportContext): Promise<AdapterExport>;
  dispose(): void;
}

/** Reads a reference library's saved adapter for one method. */
export interface AdapterReader {
  /** Whether a parsed `adapter_config.json` is this method's. */
  detect(config: Record<string, unknown>): boolean;
  /** The method's settings from that config (for `train --adapter` and loading). */
  specFrom(config: Record<string, unknown>, file: string): MethodSpec;
  /** The saved tensors by the names this method uses in its checkpoints. */
  readTensors(dir: string, config: Record<string, unknown>): HostTensors;
  /** The base model the adapter was made for, as its config names it (informational). */
  baseModelOf?(config: Record<string, unknown>): string | undefined;
  /** Our name of a tensor in `trainable_init.safetensors` (the library's in-memory name); undefined: skip it. */
  fromLibraryName?(key: string): string | undefined;
  /** Label names by id when the adapter folder records them (AdapterHub's head_config.json). */
  labelsOf?(dir: string, config: Record<string, unknown>): Record<number, string> | undefined;
}

export interface PeftMethodFactory<S = unknown> {
  info: MethodInfo;
  /** Validates a method spec (run config, CLI, adapter config) and fills its defaults. */
  parseSpec(raw: MethodSpec): S;
  create(settings: S): PeftMethod;
  adapter?: AdapterReader;
}
