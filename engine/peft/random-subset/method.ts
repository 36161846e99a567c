/**
 * The BitFit paper's control (Ben Zaken et al., 2022, §4): train a random subset of the model's parameters
 * of the same size as BitFit's, to show that *which* parameters train matters, not how many.
 *
 * Single entries are drawn uniformly without replacement (seeded) from every tensor but the task head, so
 * a weight matrix may have a few trained entries and keep the rest. Exactness: the frozen tensor stays in
 * the model untouched; each tensor with chosen entries is, at every use, `where(mask, scatter(trained),
 * frozen)`, so an entry that was not chosen is a copy of the frozen one — bit for bit, before, during and
 * after training — and only the chosen entries get gradients (the output gradient at their offsets) and
 * optimizer state. The trainable tensors are saved under the tensor's HF name with shape [entries chosen in it]; the
 * choice is a function of (model shapes, size, seed), made again identically when a run is loaded.
 */
import { tf } from '../../backend/tf';
import { mulberry32 } from '../../data/rng';
import { PeftStudioError } from '../../errors';
import { BIAS_KINDS } from '../../model/biases';
import type { EncoderModel } from '../../model/model';
import { moduleKind } from '../../model/modules';
import type { ChangeCell, ChangeEvent } from '../../protocol/events';
import { heatmapRows, isHeadParam, MethodBase, rowOf, uniqueSuffix } from '../base';
import { selectBitFit } from '../bitfit/config';
import type { ApplyContext, ChangeLayout, MethodSpec } from '../types';
import { RANDOM_SUBSET_INFO } from './info';

export const RANDOM_SUBSET_MEASURE = 'mean |Δ| of trained entries';

interface Chosen {
  /** Flat offsets of the trained entries in the tensor, ascending. */
  offsets: Int32Array;
  /** The offsets as [m, 1] scatter/gather indices into the flattened tensor. */
  indices: tf.Tensor2D;
  /** True at the trained entries. */
  mask: tf.Tensor1D;
  shape: number[];
  initial: Float32Array;
}

export class RandomSubset extends MethodBase {
  readonly info = RANDOM_SUBSET_INFO;
  private readonly chosen = new Map<string, Chosen>();

  constructor(spec: MethodSpec) {
    super(spec);
  }

  /** The default size: BitFit's bias count with all biases (its task head aside). */
  static bitfitSize(model: EncoderModel): number {
    const sel = selectBitFit(model.params.names(), { biasTerms: ['all'], trainHead: false });
    return sel.trainable.reduce((a, n) => a + model.params.get(n).size, 0);
  }

  protected setup(model: EncoderModel, ctx: ApplyContext): void {
    const pool = model.params.names().filter((n) => !isHeadParam(n) && model.params.get(n).dtype === 'float32');
    const sizes = pool.map((n) => model.params.get(n).size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const k = (this.spec.size as number | null) ?? RandomSubset.bitfitSize(model);
    if (k > total) throw new PeftStudioError('BAD_INPUT', `method random-subset: size ${k} exceeds the ${total} parameters it can choose from`);
    const seed = (this.spec.subset_seed as number | null) ?? ctx.seed;
    const picks = sampleDistinct(total, k, seed);
    let t = 0;
    let start = 0;
    const byTensor = new Map<number, number[]>();
    for (const p of picks) {
      while (p >= start + sizes[t]!) start += sizes[t++]!;
      (byTensor.get(t) ?? byTensor.set(t, []).get(t)!).push(p - start);
    }
    for (const [ti, offs] of byTensor) {
      const name = pool[ti]!;
      const frozen = model.params.get(name);
      const flat = frozen.dataSync() as Float32Array;
      const offsets = Int32Array.from(offs);
      const m = offsets.length;
      const maskData = new Int32Array(flat.length);
      const initial = new Float32Array(m);
      offsets.forEach((o, j) => {
        maskData[o] = 1;
        initial[j] = flat[o]!;
      });
      const v = tf.variable(tf.tensor1d(initial, 'float32'), true, `${name}#subset@${uniqueSuffix()}`);
      this.vars.set(name, v);
      this.why.set(name, `${m} random entr${m === 1 ? 'y' : 'ies'} of ${flat.length}`);
      const c: Chosen = {
        offsets,
        indices: tf.keep(tf.tensor2d(offsets, [m, 1], 'int32')),
        mask: tf.keep(tf.tensor1d(maskData, 'bool')),
        shape: frozen.shape,
        initial,
      };
      this.chosen.set(name, c);
      // where(mask, scatter(trained), frozen): the frozen entries are copied, never computed; the gradient
      // of the trained values is the output gradient gathered at their offsets (no dense pass over the tensor).
      const size = flat.length;
      const assemble = tf.customGrad(((values: tf.Tensor) => {
        const out = tf.reshape(tf.where(c.mask, tf.scatterND(c.indices, values, [size]), tf.reshape(model.params.peekStored(name), [size])), c.shape);
        return { value: out, gradFunc: (dy: tf.Tensor) => tf.gatherND(tf.reshape(dy, [size]), c.indices) };
      }) as unknown as Parameters<typeof tf.customGrad>[0]);
      model.params.setComputed(name, () => assemble(v as tf.Tensor));
    }
    if (this.spec.train_head !== false) this.trainHead();
  }

  changeLayout(): ChangeLayout {
    return { rows: heatmapRows(this.model), columns: [...BIAS_KINDS], measure: RANDOM_SUBSET_MEASURE };
  }

  async changeReport(step: number, topK: number): Promise<ChangeEvent> {
    const cells: ChangeCell[] = [];
    // One cell per module (weight and bias together), as full fine-tuning's grid.
    const modules = new Map<string, string[]>();
    for (const name of this.chosen.keys()) {
      const module = name.replace(/\.(weight|bias)$/, '');
      (modules.get(module) ?? modules.set(module, []).get(module)!).push(name);
    }
    for (const [module, names] of modules) {
      let l1 = 0;
      let d2 = 0;
      let w2 = 0;
      let count = 0;
      const top: Array<{ index: number; delta: number }> = [];
      for (const name of names) {
        const c = this.chosen.get(name)!;
        const now = (await this.vars.get(name)!.data()) as Float32Array;
        for (let j = 0; j < now.length; j++) {
          const d = now[j]! - c.initial[j]!;
          l1 += Math.abs(d);
          d2 += d * d;
          w2 += c.initial[j]! * c.initial[j]!;
          top.push({ index: c.offsets[j]!, delta: d });
        }
        count += now.length;
      }
      top.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta));
      cells.push({
        name: module,
        row: rowOf(module + '.'),
        kind: moduleKind(module),
        value: l1 / count,
        relative: w2 > 0 ? Math.sqrt(d2 / w2) : null,
        meanAbs: l1 / count,
        top: top.slice(0, topK),
        details: [{ title: 'entries', items: [{ label: 'trained', value: count }] }],
      });
    }
    return { v: 1, type: 'change', step, measure: RANDOM_SUBSET_MEASURE, cells };
  }

  override merge(): void {
    // Each partly trained tensor becomes a plain tensor holding its trained entries.
    for (const name of this.chosen.keys()) {
      const full = tf.tidy(() => this.model.params.get(name));
      this.model.params.set(name, full);
    }
    for (const c of this.chosen.values()) tf.dispose([c.indices, c.mask]);
    this.chosen.clear();
  }

  override dispose(): void {
    for (const [name, v] of this.vars) if (this.chosen.has(name)) v.dispose();
    for (const c of this.chosen.values()) tf.dispose([c.indices, c.mask]);
    this.chosen.clear();
    super.dispose();
  }
}

/** k distinct integers in [0, n), ascending: Floyd's algorithm with a seeded generator. */
export function sampleDistinct(n: number, k: number, seed: number): number[] {
  const rng = mulberry32(seed);
  const set = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(rng() * (j + 1));
    set.add(set.has(t) ? j : t);
  }
  return [...set].sort((a, b) => a - b);
}
