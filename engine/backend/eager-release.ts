/**
 * Frees autodiff memory as the backward pass goes, instead of at its end. TF.js 4.22's `gradients` keeps
 * every node's saved tensors (the forward activations) and every upstream gradient until the whole backward
 * pass is done, so a training pass peaks at all activations plus all of their gradients. PyTorch frees each
 * node's buffers once its backward has run; this does the same for TF.js, so the peak is the activations
 * plus the gradients still in flight: BERT-Mini at 128 tokens went from about 38 to about 15 MiB per example.
 *
 * How: every tape node's gradient function is wrapped (Engine.addTapeNode). When the backward pass reaches
 * a node, the wrapper computes the gradients of the inputs the pass needs (the same ones TF.js would ask
 * for, each in its own tidy, as TF.js does), then disposes the node's saved tensors and the gradients of its
 * outputs: no later node reads either. Released are only tensors the backward pass itself made (newer than
 * its first node: never a caller's `dy`, a weight or a constant some gradient function hands back), never a
 * gradient that is also one of the input gradients (a pass-through), and nothing while a higher-order
 * gradient is being taken (its tape is still needed). Results are bit-identical; only lifetimes change.
 *
 * The engine's `gradients`, `addTapeNode` and tape node shape are TF.js internals: the package pins
 * @tensorflow/tfjs 4.22.0, and eager-release.test.ts fails if they change shape.
 */
import { tf } from './tf';

interface TapeNode {
  inputs: Record<string, tf.Tensor>;
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  addTapeNode(...args: unknown[]): void;
  nextTensorId(): number;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): unknown;
  tidy<T extends tf.TensorContainer>(fn: () => T): T;
}

const PATCHED = Symbol.for('peft-studio.eager-release');

type Patched = EngineInternals & { [PATCHED]?: Pick<EngineInternals, 'gradients' | 'addTapeNode'> };

/** Installs the release on TF.js's engine (all backends). Idempotent. Returns false if the internals are not as expected. */
export function installEagerGradientRelease(): boolean {
  const engine = tf.engine() as unknown as Patched;
  if (engine[PATCHED]) return true;
  if (typeof engine.addTapeNode !== 'function' || typeof engine.gradients !== 'function' || typeof engine.nextTensorId !== 'function' || !engine.state) return false;
  const original = { gradients: engine.gradients, addTapeNode: engine.addTapeNode };
  // Per gradients() call in progress (nested calls stack): the first tensor id of its backward pass.
  const backwardStart: Array<number | undefined> = [];
  const gradients = engine.gradients.bind(engine);
  engine.gradients = (f, xs, dy, allowNoGradients) => {
    backwardStart.push(undefined);
    try {
      return gradients(f, xs, dy, allowNoGradients);
    } finally {
      backwardStart.pop();
    }
  };
  const addTapeNode = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (...args: unknown[]) => {
    addTapeNode(...args);
    const tape = engine.state.activeTape!;
    const node = tape[tape.length - 1]!;
    const inner = node.gradient;
    if (!inner) return;
    // Called by the backward pass on its pruned copy of the node (`this`), whose inputs are the ones it needs.
    node.gradient = function (this: TapeNode, dys: Array<tf.Tensor | null>) {
      const depth = backwardStart.length - 1;
      // Outside gradients(), or inside a higher-order gradient (whose tape is still needed): TF.js as is.
      if (depth < 0 || engine.state.gradientDepth > 0) return inner(dys);
      // Ids only grow: everything made from here on in this backward pass is newer than `start`.
      const start = (backwardStart[depth] ??= engine.nextTensorId());
      const lazy = inner(dys);
      const computed: Record<string, tf.Tensor> = {};
      const seen = new Set<tf.Tensor>();
      for (const name of Object.keys(this.inputs)) {
        if (!(name in lazy)) continue; // the backward pass reports the missing gradient itself
        let dx = engine.tidy(() => lazy[name]!());
        // One tensor object for two inputs would be released twice over: give the second its own handle.
        if (seen.has(dx)) dx = tf.clone(dx);
        seen.add(dx);
        computed[name] = dx;
      }
      for (const t of this.saved ?? []) if (!seen.has(t)) t.dispose();
      for (const dy of dys) if (dy && dy.id > start && !seen.has(dy)) dy.dispose();
      const out: Record<string, () => tf.Tensor> = {};
      for (const name of Object.keys(lazy)) out[name] = name in computed ? () => computed[name]! : lazy[name]!;
      return out;
    };
  };
  engine[PATCHED] = original;
  return true;
}

/** Puts TF.js's own behaviour back (tests compare the two). */
export function uninstallEagerGradientRelease(): void {
  const engine = tf.engine() as unknown as Patched;
  const original = engine[PATCHED];
  if (!original) return;
  engine.gradients = original.gradients;
  engine.addTapeNode = original.addTapeNode;
  delete engine[PATCHED];
}
