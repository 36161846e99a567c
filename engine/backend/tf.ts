/**
 * The one place the engine imports TensorFlow.js from. Model, PEFT and trainer code use `tf` from here and
 * never name a backend package, so a faster backend (WebGPU, a native addon) plugs in behind `select.ts`
 * without touching them. Gradients are registered here because bare tfjs-core ships without them.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
// A named import, not a bare one: bundlers drop bare imports of packages marked side-effect free,
// and this import's side effect (registering the cpu backend) is the point.
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';

export { tf };
export const CPU_BACKEND_VERSION = version_cpu;
export type Tensor = tf.Tensor;
export type Variable = tf.Variable;

/** `tf.tidy` for functions returning plain objects of tensors (model outputs), keeping their type. */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
