/**
 * Global-norm gradient clipping as `torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2)`:
 *
 *   total_norm = || stack([ ||g_i||_2 for each grad ]) ||_2
 *   clip_coef  = max_norm / (total_norm + 1e-6)
 *   every grad *= min(clip_coef, 1)
 *
 * All in float32 tensors, as torch does. torch multiplies even when the coefficient is clamped to 1; that is
 * an exact no-op, so we do the same and need no branch on a value read back from the device.
 */
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';

export interface ClipResult {
  /** Global L2 norm of the gradients before clipping (what HF Trainer logs as grad_norm). */
  totalNorm: number;
  /** New tensors, same keys as the input; the caller disposes them (and, separately, the input grads). */
  grads: Map<string, tf.Tensor>;
}

/**
 * Clips `grads` to global L2 norm `maxNorm`. `maxNorm` 0 or undefined turns clipping off (HF's
 * max_grad_norm=0 convention) but still measures the norm; the returned grads are then clones.
 * The input grads are not modified or disposed.
 */
export async function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm?: number): Promise<ClipResult> {
  if (maxNorm !== undefined && !(maxNorm >= 0)) {
    throw new PeftStudioError('BAD_INPUT', `gradient clipping: max norm must be >= 0, got ${maxNorm}`);
  }
  const clip = maxNorm !== undefined && maxNorm > 0;

  const names = [...grads.keys()];
  // tidy keeps only tensors it can find in the returned value (arrays/objects, not Maps): return an array.
  const [norm, ...clipped] = tf.tidy(() => {
    const gs = names.map((n) => grads.get(n)!);
    const norms = gs.map((g) => tf.sqrt(tf.sum(tf.square(g))));
    // torch returns tensor(0.) when there are no gradients.
    const norm = norms.length === 0 ? tf.scalar(0) : tf.sqrt(tf.sum(tf.square(tf.stack(norms))));
    if (!clip) return [norm, ...gs.map((g) => tf.clone(g))];
    const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6))), tf.scalar(1));
    return [norm, ...gs.map((g) => tf.mul(g, coef))];
  });
  const out = new Map(names.map((n, i) => [n, clipped[i]] as const));

  // Read with data(): dataSync() throws on some backends.
  const totalNorm = (await norm.data())[0];
  norm.dispose();
  return { totalNorm, grads: out };
}
