/**
 * Full fine-tuning: every tensor of the model trains. The baseline every PEFT method is compared with;
 * its result is a plain HF model folder (`export --merged`). What moved: per layer and module,
 * ‖ΔW‖F / ‖W₀‖F over the module's weight and bias.
 */
import { BIAS_KINDS } from '../../model/biases';
import { moduleKind } from '../../model/modules';
import type { EncoderModel } from '../../model/model';
import type { ChangeCell, ChangeEvent } from '../../protocol/events';
import { heatmapRows, MethodBase, rowOf } from '../base';
import { parseSettings } from '../settings';
import type { ApplyContext, ChangeLayout, MethodSpec, PeftMethodFactory } from '../types';
import { FULL_INFO } from './info';

export const FULL_MEASURE = '‖ΔW‖F / ‖W₀‖F';

export { FULL_INFO };

export class FullFineTuning extends MethodBase {
  readonly info = FULL_INFO;
  private readonly initial = new Map<string, Float32Array>();

  protected setup(model: EncoderModel, ctx: ApplyContext): void {
    for (const name of model.params.names()) {
      const v = this.trainExisting(name, 'every weight');
      // A copy of the whole model on the host: only when training, for the what-moved grid.
      if (ctx.training !== false) this.initial.set(name, (v.dataSync() as Float32Array).slice());
    }
  }

  changeLayout(): ChangeLayout {
    return { rows: heatmapRows(this.model), columns: [...BIAS_KINDS], measure: FULL_MEASURE };
  }

  async changeReport(step: number, topK: number): Promise<ChangeEvent> {
    // One cell per module: its weight and bias together.
    const modules = new Map<string, string[]>();
    for (const name of this.initial.keys()) {
      const module = name.replace(/\.(weight|bias)$/, '');
      (modules.get(module) ?? modules.set(module, []).get(module)!).push(name);
    }
    const cells: ChangeCell[] = [];
    for (const [module, names] of modules) {
      let d2 = 0;
      let w2 = 0;
      let l1 = 0;
      let count = 0;
      const rowMoves: Array<{ index: number; delta: number }> = [];
      for (const name of names) {
        const w0 = this.initial.get(name)!;
        const v = this.vars.get(name)!;
        const w = (await v.data()) as Float32Array;
        const cols = v.rank === 2 ? v.shape[1]! : 1;
        for (let i = 0; i < w.length; i++) {
          const d = w[i]! - w0[i]!;
          d2 += d * d;
          w2 += w0[i]! * w0[i]!;
          l1 += Math.abs(d);
        }
        count += w.length;
        // Output units that moved most: the signed mean change of each row (the bias change for a vector).
        if (name.endsWith('.bias') || v.rank === 1) {
          for (let i = 0; i < w.length; i++) rowMoves.push({ index: i, delta: w[i]! - w0[i]! });
        } else if (!names.some((n) => n.endsWith('.bias'))) {
          for (let r = 0; r * cols < w.length && r < 4096; r++) {
            let s = 0;
            for (let j = 0; j < cols; j++) s += w[r * cols + j]! - w0[r * cols + j]!;
            rowMoves.push({ index: r, delta: s / cols });
          }
        }
      }
      rowMoves.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta));
      const relative = w2 > 0 ? Math.sqrt(d2 / w2) : null;
      cells.push({
        name: module,
        row: rowOf(module + '.'),
        kind: moduleKind(module),
        value: relative ?? Math.sqrt(d2),
        relative,
        meanAbs: l1 / count,
        top: rowMoves.slice(0, topK),
        details: [{ title: 'change', items: [{ label: '‖ΔW‖F', value: Math.sqrt(d2) }, { label: '‖W₀‖F', value: Math.sqrt(w2) }] }],
      });
    }
    return { v: 1, type: 'change', step, measure: FULL_MEASURE, cells };
  }

  override merge(): void {
    // Every tensor trained in place: the model is already the merged model.
  }
}

export const full: PeftMethodFactory<MethodSpec> = {
  info: FULL_INFO,
  parseSpec: (raw) => parseSettings(FULL_INFO, raw),
  create: (spec) => new FullFineTuning(spec),
};
