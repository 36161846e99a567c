/**
 * BitFit as a method: the selected biases (and the task head) become trainable variables in place, under
 * their HF names; everything else stays a plain frozen tensor, so no weight gradient is ever computed and
 * no optimizer state exists for it. What moved: per bias, mean |Δb| (the BitFit paper's measure).
 */
import type { tf } from '../../backend/tf';
import { BIAS_KINDS, classifyBias } from '../../model/biases';
import type { EncoderModel } from '../../model/model';
import { BITFIT_MEASURE, type ChangeCell, type ChangeEvent } from '../../protocol/events';
import { biasCell } from '../../train/bias-change';
import { heatmapRows, MethodBase } from '../base';
import type { ApplyContext, ChangeLayout, MethodInfo, MethodSpec } from '../types';
import { selectBitFit, type BitFitConfig } from './config';
import { BITFIT_INFO } from './info';

export class BitFit extends MethodBase {
  readonly info: MethodInfo = BITFIT_INFO;
  /** b₀: the values at apply (the pretrained ones, also when a run resumes), for the change measure. */
  private readonly initial = new Map<string, Float32Array>();

  constructor(
    readonly config: BitFitConfig,
    spec: MethodSpec = { name: 'bitfit', bias_terms: config.biasTerms, train_head: config.trainHead },
  ) {
    super(spec);
  }

  protected setup(model: EncoderModel, _ctx: ApplyContext): void {
    const selection = selectBitFit(model.params.names(), this.config);
    for (const name of selection.trainable) {
      const v = this.trainExisting(name, selection.why[name]!);
      if (classifyBias(name)) this.initial.set(name, snapshot(v));
    }
  }

  changeLayout(): ChangeLayout {
    return { rows: heatmapRows(this.model), columns: [...BIAS_KINDS], measure: BITFIT_MEASURE };
  }

  async changeReport(step: number, topK: number): Promise<ChangeEvent> {
    const cells: ChangeCell[] = [];
    for (const [name, b0] of this.initial) {
      const v = this.vars.get(name);
      if (!v) continue;
      const cell = biasCell(name, b0, (await v.data()) as Float32Array, topK);
      cells.push({ ...cell, value: cell.meanAbs });
    }
    return { v: 1, type: 'change', step, measure: BITFIT_MEASURE, cells };
  }

  override merge(): void {
    // The trained biases already are the model's own tensors: nothing to fold.
  }
}

function snapshot(v: tf.Variable): Float32Array {
  return (v.dataSync() as Float32Array).slice();
}
