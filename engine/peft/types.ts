/**
 * The contract every PEFT method meets (BitFit today; LoRA, adapters, prompt/prefix tuning later). A method
 * decides which tensors train (creating new ones if it must), takes part in the forward pass through the
 * model's ParamStore, says what it changed, and exports itself. The trainer only sees this interface.
 */
import type { tf } from '../backend/tf';
import type { EncoderModel } from '../model/model';

export interface TrainableSummary {
  trainable: number;
  total: number;
  percent: number;
  /** Trainable tensor names and why each was chosen (`group "query"`, `task head`, …). */
  tensors: Array<{ name: string; size: number; why: string }>;
}

export interface PeftMethod {
  readonly name: string;
  /** Turns the chosen tensors of `model` into trainable variables. Call once, before training. */
  apply(model: EncoderModel): void;
  /** The trainable variables by HF name — the only tensors that get gradients and optimizer state. */
  trainable(): Map<string, tf.Variable>;
  describe(): TrainableSummary;
  /** Current values of the trained tensors by HF name (the "delta" export: small, loadable with strict=False). */
  exportTensors(): Promise<Map<string, { shape: number[]; data: Float32Array }>>;
  dispose(): void;
}

export interface PeftMethodFactory<C> {
  name: string;
  /** Fills defaults and rejects impossible settings up front. */
  parseConfig(raw: unknown): C;
  create(config: C): PeftMethod;
}
