/**
 * What every method shares: turning existing tensors into trainable variables, adding new ones to the
 * model under their saved names, the task head, trainable counts, checkpoint save/restore with name and
 * shape checks, and the "start" values the what-moved grid is measured against. A method subclasses this
 * and writes only its choice of tensors (`setup`), its hooks, its change report and its file format.
 */
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';
import { NO_HOOKS, type ModelHooks } from '../model/hooks';
import type { EncoderModel } from '../model/model';
import type { ChangeEvent } from '../protocol/events';
import type { ApplyContext, ChangeLayout, HostTensors, MethodInfo, MethodSpec, PeftMethod, TrainableSummary } from './types';

import { isHeadParam } from './names';

export { isHeadParam };

export abstract class MethodBase implements PeftMethod {
  abstract readonly info: MethodInfo;
  protected modelRef?: EncoderModel;
  protected readonly vars = new Map<string, tf.Variable>();
  protected readonly why = new Map<string, string>();
  /** Tensors this method added to the model: not part of the base checkpoint, removed again by `merge`. */
  protected readonly added = new Set<string>();

  constructor(readonly spec: MethodSpec) {}

  get name(): string {
    return this.info.name;
  }

  protected get model(): EncoderModel {
    if (!this.modelRef) throw new PeftStudioError('BAD_INPUT', `${this.info.title} has not been applied to a model yet`);
    return this.modelRef;
  }

  apply(model: EncoderModel, ctx: ApplyContext = { seed: 42, notices: [] }): void {
    if (this.modelRef) throw new PeftStudioError('BAD_INPUT', `${this.info.title} was already applied to a model`);
    this.modelRef = model;
    this.setup(model, ctx);
    const hooks = this.hooks();
    if (hooks) model.hooks = hooks;
  }

  /** Chooses and creates the trainable tensors. */
  protected abstract setup(model: EncoderModel, ctx: ApplyContext): void;

  /** The method's forward-pass hooks; none by default (the method only changes tensors in place). */
  protected hooks(): ModelHooks | undefined {
    return undefined;
  }

  /** Turns an existing frozen tensor into a trainable variable under the same name. */
  protected trainExisting(name: string, why: string): tf.Variable {
    const frozen = this.model.params.get(name);
    // Unique variable names: two models in one process (trained vs. base in the playground) must not clash.
    const v = tf.variable(frozen, true, `${name}@${uniqueSuffix()}`);
    this.model.params.set(name, v); // disposes the frozen copy
    this.vars.set(name, v);
    this.why.set(name, why);
    return v;
  }

  /** Adds a new trainable tensor to the model (taking ownership of `init`). */
  protected addTrainable(name: string, init: tf.Tensor, why: string): tf.Variable {
    if (this.model.params.has(name)) throw new PeftStudioError('BAD_INPUT', `${this.info.title}: the model already has a tensor named ${name}`);
    const v = tf.variable(init, true, `${name}@${uniqueSuffix()}`);
    init.dispose();
    this.model.params.set(name, v);
    this.added.add(name);
    this.vars.set(name, v);
    this.why.set(name, why);
    return v;
  }

  /** Trains the classification head (PEFT's modules_to_save for sequence classification). */
  protected trainHead(why = 'task head'): void {
    for (const name of this.model.params.names()) if (isHeadParam(name) && !this.vars.has(name)) this.trainExisting(name, why);
  }

  trainable(): Map<string, tf.Variable> {
    return this.vars;
  }

  describe(): TrainableSummary {
    const total = this.model.numParameters();
    const tensors = [...this.vars].map(([name, v]) => ({ name, size: v.size, why: this.why.get(name) ?? '' }));
    const trainable = tensors.reduce((a, t) => a + t.size, 0);
    return { trainable, total, percent: (100 * trainable) / total, tensors };
  }

  async exportTensors(): Promise<HostTensors> {
    const out: HostTensors = new Map();
    for (const [name, v] of this.vars) out.set(name, { shape: v.shape, data: ((await v.data()) as Float32Array).slice() });
    return out;
  }

  loadTensors(tensors: HostTensors, source: string, opts: { dryRun?: boolean; partial?: (name: string) => boolean } = {}): void {
    // Every check before any change: a refused file leaves the model as it was.
    for (const [name, v] of this.vars) {
      const t = tensors.get(name);
      if (!t && opts.partial?.(name)) continue;
      if (!t) throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: lacks trainable tensor ${name} — was it made with other ${this.info.title} settings?`, source);
      if (t.shape.join() !== v.shape.join()) {
        throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: ${name} has shape [${t.shape}], this model's is [${v.shape}] — an adapter for another base model?`, source);
      }
    }
    const extra = [...tensors.keys()].filter((n) => !this.vars.has(n));
    if (extra.length) {
      throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: tensors this ${this.info.title} run does not train: ${extra.slice(0, 6).join(', ')}${extra.length > 6 ? ', …' : ''}`, source);
    }
    if (opts.dryRun) return;
    for (const [name, v] of this.vars) {
      const t = tensors.get(name);
      if (t) tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, 'float32')));
    }
  }

  abstract changeLayout(): ChangeLayout;
  abstract changeReport(step: number, topK: number): Promise<ChangeEvent>;

  async markStart(): Promise<void> {
    // Methods that measure against start values override this; LoRA's ΔW needs none.
  }

  merge(): void {
    if (this.info.merge !== true) throw new PeftStudioError('UNSUPPORTED', `${this.info.title} cannot be merged into the model's weights: ${this.info.merge}`);
    this.model.hooks = NO_HOOKS;
  }

  /** Removes the tensors this method added (after a merge folded them into the weights). */
  protected removeAdded(): void {
    for (const name of this.added) {
      this.model.params.delete(name);
      this.vars.delete(name);
    }
    this.added.clear();
  }

  dispose(): void {
    // The variables live in the model's ParamStore and are disposed with the model.
    this.vars.clear();
  }
}

/** Heatmap rows of a model: embeddings, each layer, the pooler when there is one, the classifier. */
export function heatmapRows(model: EncoderModel): string[] {
  const rows = ['embeddings', ...Array.from({ length: model.config.numHiddenLayers }, (_, i) => `layer.${i}`)];
  if (model.params.has(`${model.basePrefix}pooler.dense.bias`)) rows.push('pooler');
  if (model.head !== 'none') rows.push('classifier');
  return rows;
}

/** The heatmap row of a tensor or module name. */
export function rowOf(name: string): string {
  const m = /(?:^|\.)(?:encoder|transformer)\.layer\.(\d+)\./.exec(name);
  if (m) return `layer.${m[1]}`;
  if (/(?:^|\.)embeddings\./.test(name)) return 'embeddings';
  if (/(?:^|\.)pooler\./.test(name)) return 'pooler';
  if (isHeadParam(name)) return 'classifier';
  return 'other';
}

let counter = 0;
export function uniqueSuffix(): string {
  counter += 1;
  return `${process.pid}.${counter}`;
}
