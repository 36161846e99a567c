/**
 * Native kernels for the wasm backend: an optional C++ addon (native/) with a multithreaded AVX2/FMA SGEMM,
 * swapped in for the wasm backend's BatchMatMul and _FusedMatMul, multithreaded Sum over leading / trailing
 * axes (sum.ts), a fused exact GELU with its gradient (gelu.ts) and a fused LayerNorm with its gradients
 * (layernorm.ts), dropout with a hashed mask (dropout.ts) and BERT's scaled, masked attention softmax
 * (attention-softmax.ts), and BERT's whole self-attention core per head (self-attention.ts), all used by
 * the model while installed;
 * together with a row-copy GatherV2 (gather.ts; the embedding lookups), a copy-free Identity
 * (identity.ts) and a Slice, SplitV and Concat that copy inside the heap (slice.ts). Everything else stays on wasm. Without the addon (no compiler at install, other CPU,
 * PEFT_STUDIO_NATIVE=0) nothing changes.
 *
 * Env: PEFT_STUDIO_NATIVE=0 disables it; PEFT_STUDIO_THREADS=N sets the thread count (default: the cores
 * this process may use).
 */
import * as os from 'node:os';
import { tf } from '../tf';
import { loadAddon, type NativeAddon } from './addon';
import { rowGatherV2 } from './gather';
import { ATTENTION_SOFTMAX, ATTENTION_SOFTMAX_GRAD, attentionSoftmaxGradKernel, attentionSoftmaxKernel, registerAttentionSoftmaxGradient } from './attention-softmax';
import { DROPOUT, dropoutKernel, registerDropoutGradient } from './dropout';
import {
  SELF_ATTENTION,
  SELF_ATTENTION_GRAD,
  SELF_ATTENTION_PREFIX,
  SELF_ATTENTION_PREFIX_GRAD,
  selfAttentionGradKernel,
  selfAttentionKernel,
  selfAttentionPrefixGradKernel,
  selfAttentionPrefixKernel,
} from './self-attention';
import { GELU, GELU_GRAD, geluGradKernel, geluKernel, registerGeluGradient } from './gelu';
import { sharedIdentity } from './identity';
import { heapConcat, heapSlice, heapSplitV } from './slice';
import { ADD_LAYER_NORM, addLayerNormKernel, LAYER_NORM, LAYER_NORM_GRAD, layerNormGradKernel, layerNormKernel, registerLayerNormGradient } from './layernorm';
import { nativeBatchMatMul, nativeFusedMatMul, type Kernel } from './kernels';
import { nativeSum } from './sum';

export interface NativeKernelStatus {
  active: boolean;
  /** Why the native kernels are not active. */
  reason?: string;
  /** Worker threads (the calling thread included); 0 when inactive. */
  threads: number;
  /** The GEMM kernel in use: 'avx2' (AVX2 + FMA) or 'generic' (portable C++). */
  isa?: 'avx2' | 'generic';
}

const BACKEND = 'wasm';
/** Each replacement, made from the addon and the stock kernel it falls back to. */
const KERNELS: Record<string, (addon: NativeAddon, stock: Kernel) => Kernel> = {
  BatchMatMul: nativeBatchMatMul,
  _FusedMatMul: nativeFusedMatMul,
  GatherV2: rowGatherV2,
  Sum: nativeSum,
  Identity: (_addon, stock) => sharedIdentity(stock),
  Slice: (_addon, stock) => heapSlice(stock),
  SplitV: (_addon, stock) => heapSplitV(stock),
  Concat: (_addon, stock) => heapConcat(stock),
};
/** Kernels with no stock counterpart, registered while installed (their users check for them). */
const ADDED: Record<string, (addon: NativeAddon) => Kernel> = {
  [GELU]: geluKernel,
  [GELU_GRAD]: geluGradKernel,
  [LAYER_NORM]: layerNormKernel,
  [LAYER_NORM_GRAD]: layerNormGradKernel,
  [ADD_LAYER_NORM]: addLayerNormKernel,
  [DROPOUT]: dropoutKernel,
  [ATTENTION_SOFTMAX]: attentionSoftmaxKernel,
  [ATTENTION_SOFTMAX_GRAD]: attentionSoftmaxGradKernel,
  [SELF_ATTENTION]: selfAttentionKernel,
  [SELF_ATTENTION_GRAD]: selfAttentionGradKernel,
  [SELF_ATTENTION_PREFIX]: selfAttentionPrefixKernel,
  [SELF_ATTENTION_PREFIX_GRAD]: selfAttentionPrefixGradKernel,
};

/** The stock kernels we replaced, to restore them. */
let replaced: tf.KernelConfig[] | undefined;
let status: NativeKernelStatus | undefined;

/** Replaces the wasm backend's kernels listed above with these ones. Idempotent; never throws. */
export function installNativeKernels(): NativeKernelStatus {
  if (replaced && status) return status;
  const inactive = (reason: string): NativeKernelStatus => ({ active: false, reason, threads: 0 });
  if (process.env.PEFT_STUDIO_NATIVE === '0') return inactive('disabled by PEFT_STUDIO_NATIVE=0');
  const threads = threadCount(process.env.PEFT_STUDIO_THREADS);
  if (typeof threads === 'string') return inactive(threads);
  const stock = Object.keys(KERNELS).map((name) => tf.getKernel(name, BACKEND));
  if (stock.some((k) => !k)) return inactive('the wasm backend is not loaded (initialise it first)');
  const load = loadAddon();
  if (!load.addon) return inactive(load.reason);
  let info;
  try {
    info = load.addon.configure(threads);
  } catch (e) {
    return inactive(`native addon failed to start: ${(e as Error).message}`);
  }
  replaced = stock as tf.KernelConfig[];
  for (const config of replaced) {
    const make = KERNELS[config.kernelName]!;
    tf.unregisterKernel(config.kernelName, BACKEND);
    // The stock setupFunc stays: the stock kernel remains the fallback for what the native one declines.
    tf.registerKernel({ ...config, kernelFunc: make(load.addon, config.kernelFunc as never) as unknown as tf.KernelFunc });
  }
  for (const [kernelName, make] of Object.entries(ADDED)) {
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: make(load.addon) as unknown as tf.KernelFunc });
  }
  registerGeluGradient();
  registerLayerNormGradient();
  registerDropoutGradient();
  registerAttentionSoftmaxGradient();
  status = { active: true, threads: info.threads, isa: info.isa };
  return status;
}

/** Puts the stock wasm kernels back (tests compare the two). */
export function uninstallNativeKernels(): void {
  if (!replaced) return;
  for (const config of replaced) {
    tf.unregisterKernel(config.kernelName, BACKEND);
    tf.registerKernel(config);
  }
  for (const kernelName of Object.keys(ADDED)) tf.unregisterKernel(kernelName, BACKEND);
  replaced = undefined;
  status = undefined;
}

/** PEFT_STUDIO_THREADS or the cores this process may use; a string says what is wrong with the setting. */
function threadCount(env: string | undefined): number | string {
  if (env === undefined || env === '') return os.availableParallelism();
  const n = Number(env);
  return Number.isInteger(n) && n >= 1 && n <= 1024 ? n : `PEFT_STUDIO_THREADS="${env}" is not a thread count (1-1024)`;
}
