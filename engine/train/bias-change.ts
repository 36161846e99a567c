/**
 * How far each trained bias has moved from its pretrained value: the numbers behind the dashboard's
 * heatmap. Reads every tracked bias once per summary (a few KB to a few hundred KB), so the trainer calls it
 * every `bias_change_steps`, not every step.
 */
import type { tf } from '../backend/tf';
import { classifyBias } from '../model/biases';
import type { BiasCell, BiasChangeEvent } from '../protocol/events';

export class BiasTracker {
  private constructor(private readonly initial: Map<string, Float32Array>) {}

  /** Snapshots b₀ for every trainable bias. Call before the first update (and, on resume, with the base model's values). */
  static async start(vars: Map<string, tf.Variable>): Promise<BiasTracker> {
    const initial = new Map<string, Float32Array>();
    for (const [name, v] of vars) if (classifyBias(name)) initial.set(name, ((await v.data()) as Float32Array).slice());
    return new BiasTracker(initial);
  }

  tracked(): string[] {
    return [...this.initial.keys()];
  }

  async summarize(vars: Map<string, tf.Variable>, step: number, topK: number): Promise<BiasChangeEvent> {
    const cells: BiasCell[] = [];
    for (const [name, b0] of this.initial) {
      const v = vars.get(name);
      if (!v) continue;
      const b = (await v.data()) as Float32Array;
      cells.push(biasCell(name, b0, b, topK));
    }
    return { v: 1, type: 'biasChange', step, cells };
  }
}

export function biasCell(name: string, b0: Float32Array, b: Float32Array, topK: number): BiasCell {
  const info = classifyBias(name)!;
  let l1 = 0;
  let l2 = 0;
  let base2 = 0;
  const deltas = new Float64Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const d = b[i]! - b0[i]!;
    deltas[i] = d;
    l1 += Math.abs(d);
    l2 += d * d;
    base2 += b0[i]! * b0[i]!;
  }
  const order = Array.from(deltas.keys()).sort((i, j) => Math.abs(deltas[j]!) - Math.abs(deltas[i]!));
  return {
    name,
    row: info.row,
    kind: info.kind,
    meanAbs: l1 / b.length,
    relative: base2 > 0 ? Math.sqrt(l2) / Math.sqrt(base2) : null,
    top: order.slice(0, topK).map((index) => ({ index, delta: deltas[index]! })),
  };
}
