/** Element types found in HF weight files (safetensors names; the pickle reader maps torch's onto these). */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * A tensor read from disk, before it becomes a TF.js tensor. Float dtypes are widened to float32 (the
 * engine computes in float32; F64 is narrowed), integer dtypes to int32 (I64 values must fit, they are
 * only ever index buffers such as `position_ids`). `dtype` keeps what the file said.
 */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Tensors by their checkpoint name (`bert.encoder.layer.0.attention.self.query.bias`), in file order. */
export type StateDict = Map<string, HostTensor>;
