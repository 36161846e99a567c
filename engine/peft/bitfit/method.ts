/**
 * BitFit as a PeftMethod: the selected biases (and the task head) become trainable variables in place, under
 * their HF names; everything else stays a plain frozen tensor, so no weight gradient is ever computed and
 * no optimizer state exists for it.
 */
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import type { EncoderModel } from '../../model/model';
import type { PeftMethod, TrainableSummary } from '../types';
import { selectBitFit, type BitFitConfig, type Selection } from './config';

export class BitFit implements PeftMethod {
  readonly name = 'bitfit';
  private model?: EncoderModel;
  private selection?: Selection;
  private readonly vars = new Map<string, tf.Variable>();

  constructor(readonly config: BitFitConfig) {}

  apply(model: EncoderModel): void {
    if (this.model) throw new PeftStudioError('BAD_INPUT', 'BitFit was already applied to a model');
    this.model = model;
    this.selection = selectBitFit(model.params.names(), this.config);
    for (const name of this.selection.trainable) {
      const frozen = model.params.get(name);
      // Unique variable names: two models in one process (trained vs. base in the playground) must not clash.
      const v = tf.variable(frozen, true, `${name}@${uniqueSuffix()}`);
      model.params.set(name, v); // disposes the frozen copy
      this.vars.set(name, v);
    }
  }

  trainable(): Map<string, tf.Variable> {
    return this.vars;
  }

  describe(): TrainableSummary {
    const model = this.requireModel();
    const total = model.numParameters();
    const tensors = [...this.vars].map(([name, v]) => ({ name, size: v.size, why: this.selection!.why[name]! }));
    const trainable = tensors.reduce((a, t) => a + t.size, 0);
    return { trainable, total, percent: (100 * trainable) / total, tensors };
  }

  async exportTensors(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, v] of this.vars) out.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
    return out;
  }

  dispose(): void {
    // The variables live in the model's ParamStore and are disposed with the model.
    this.vars.clear();
  }

  private requireModel(): EncoderModel {
    if (!this.model) throw new PeftStudioError('BAD_INPUT', 'BitFit has not been applied to a model yet');
    return this.model;
  }
}

let counter = 0;
function uniqueSuffix(): string {
  counter += 1;
  return `${process.pid}.${counter}`;
}
