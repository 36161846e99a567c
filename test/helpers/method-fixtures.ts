/**
 * Shared plumbing for the method parity suites (LoRA, adapters, prompt family): the fixture batch as
 * tensors, host tensors of a safetensors file under our names, gradients at a method's starting point, and
 * the 20-step AdamW curve the reference libraries ran (constant lr, no clipping, full batch, eval mode).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../engine/backend/tf';
import { readSafetensors } from '../../engine/io/safetensors';
import { sequenceClassificationLoss, type EncoderModel } from '../../engine/model/model';
import type { HostTensors, PeftMethod } from '../../engine/peft/types';
import type { TensorBatch } from '../../engine/train/batches';
import { AdamW } from '../../engine/train/optim/adamw';
import { computeGradients } from '../../engine/train/step';

export interface FixtureCase {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  labels: number[];
}

/** A reference fixture folder: its expected.json (cases by method name), case.json's batch and the base model folder. */
export function openMethodFixture<E>(root: string): { root: string; expected: { methods: Record<string, E> }; batchCase: FixtureCase; modelDir: string } {
  const expected = JSON.parse(fs.readFileSync(path.join(root, 'expected.json'), 'utf8')) as { methods: Record<string, E> };
  return { root, expected, batchCase: readCase(root), modelDir: path.join(root, 'model') };
}

export function readCase(dir: string): FixtureCase {
  return JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8')) as FixtureCase;
}

export function fixtureBatch(c: FixtureCase): TensorBatch {
  return {
    inputs: {
      inputIds: tf.tensor2d(c.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(c.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(c.token_type_ids, undefined, 'int32'),
    },
    labels: tf.tensor1d(c.labels, 'int32'),
    tokens: 0,
    size: c.labels.length,
  };
}

export function disposeFixtureBatch(b: TensorBatch): void {
  tf.dispose([b.inputs.inputIds, b.inputs.attentionMask, b.inputs.tokenTypeIds!, b.labels]);
}

/** A safetensors file's tensors renamed (undefined drops one). */
export function readRenamed(file: string, rename: (key: string) => string | undefined): HostTensors {
  const out: HostTensors = new Map();
  for (const [k, t] of readSafetensors(file).tensors) {
    const name = rename(k);
    if (name !== undefined) out.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  return out;
}

export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Eval-mode logits [B, L] as a flat array, and the mean cross-entropy. */
export async function logitsAndLoss(model: EncoderModel, batch: TensorBatch): Promise<{ logits: Float32Array; loss: number }> {
  const logits = tf.tidy(() => model.forward(batch.inputs).logits!);
  const data = (await logits.data()) as Float32Array;
  const lossT = tf.tidy(() => sequenceClassificationLoss(logits as tf.Tensor2D, batch.labels, 'single_label_classification'));
  const loss = (await lossT.data())[0]!;
  tf.dispose([logits, lossT]);
  return { logits: data, loss };
}

/** d loss / d each trainable tensor at the current values. */
export async function gradientsOf(model: EncoderModel, method: PeftMethod, batch: TensorBatch): Promise<Map<string, Float32Array>> {
  const { grads } = await computeGradients(model, [batch], 'single_label_classification', method.trainable(), { training: false, seed: 0 });
  const out = new Map<string, Float32Array>();
  for (const [n, g] of grads) out.set(n, (await g.data()) as Float32Array);
  tf.dispose([...grads.values()]);
  return out;
}

/** The reference libraries' run: `steps` AdamW steps (betas 0.9/0.999, eps 1e-8, no decay, constant lr), losses[k] after k steps. */
export async function adamCurve(model: EncoderModel, method: PeftMethod, batch: TensorBatch, lr: number, steps = 20): Promise<number[]> {
  const vars = method.trainable();
  const optimizer = new AdamW(vars, { lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  const losses: number[] = [];
  try {
    for (let k = 0; k <= steps; k++) {
      const { loss, grads } = await computeGradients(model, [batch], 'single_label_classification', vars, { training: false, seed: 0 });
      losses.push(loss);
      if (k < steps) optimizer.step(grads, lr);
      tf.dispose([...grads.values()]);
    }
  } finally {
    optimizer.dispose();
  }
  return losses;
}

/** The starting point against the reference: logits within 2e-5 rel L2, loss within 1e-5; returns the logits' error. */
export async function checkInitLogitsAndLoss(model: EncoderModel, batch: TensorBatch, exp: { logits_f64: number[][]; loss_f64: number }): Promise<number> {
  const init = await logitsAndLoss(model, batch);
  const logitsErr = relL2(init.logits, exp.logits_f64.flat());
  assert.ok(logitsErr <= 2e-5, `init logits rel L2 ${logitsErr}`);
  assert.ok(Math.abs(init.loss - exp.loss_f64) <= 1e-5, `init loss ${init.loss} vs ${exp.loss_f64}`);
  return logitsErr;
}

/**
 * The reference's 20-step AdamW curve and the logits after it, held to the parity bounds: every loss within
 * 1e-5 of the reference's, the loss falling by more than 0.05, the after-20 logits within 2e-5 rel L2.
 * Returns the worst errors for the suite's diagnostic line.
 */
export async function checkCurveAndAfter20(
  model: EncoderModel,
  method: PeftMethod,
  batch: TensorBatch,
  lr: number,
  exp: { train: { losses_f64: number[] }; logits_after20_f64: number[][] },
): Promise<{ worstCurve: number; after20: number }> {
  const curve = await adamCurve(model, method, batch, lr);
  const worstCurve = Math.max(...curve.map((l, k) => Math.abs(l - exp.train.losses_f64[k]!)));
  assert.ok(worstCurve <= 1e-5, `max |Δloss| over the curve ${worstCurve}`);
  assert.ok(curve[20]! < curve[0]! - 0.05, `loss did not fall: ${curve[0]} → ${curve[20]}`);
  const trained = await logitsAndLoss(model, batch);
  const after20 = relL2(trained.logits, exp.logits_after20_f64.flat());
  assert.ok(after20 <= 2e-5, `after-20 logits rel L2 ${after20}`);
  return { worstCurve, after20 };
}
