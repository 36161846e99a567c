/**
 * An encoder plus its task head, as one object: `forward` gives what HF's `*ForSequenceClassification`
 * returns (logits, optional hidden states and attentions), `loss` applies HF's loss for the problem type.
 * Tensor math only; loading lives in load.ts, training in the trainer.
 */
import { tf } from '../backend/tf';
import { bertEncoder, bertPooler, firstToken, type EncoderInputs, type EncoderOutputs } from './bert';
import type { EncoderConfig, HeadKind, ProblemType } from './config';
import { distilbertEncoder } from './distilbert';
import { NO_HOOKS, type ModelHooks } from './hooks';
import { Dropout, linear, type LinearContext } from './layers';
import type { ParamStore } from './params';
import { basePrefixFor, expectedParams, hasPooler, type ParamSpec } from './schema';

export interface ForwardOptions {
  /** Dropout on (training) or off (eval, HF's `model.eval()`). Default off. */
  training?: boolean;
  /** Seed for this call's dropout masks; the trainer passes one per step so runs replay exactly. */
  dropoutSeed?: number;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface ModelOutputs extends EncoderOutputs {
  /** [B, H] tanh pooler output, for models that have a pooler. */
  pooled?: tf.Tensor2D;
  /** [B, num_labels], when the model has a classification head. */
  logits?: tf.Tensor2D;
}

export class EncoderModel {
  /** `bert.` / `roberta.` / `distilbert.` or '' — the prefix every encoder tensor name starts with. */
  readonly basePrefix: string;
  readonly specs: ParamSpec[];
  /** What a PEFT method adds to the forward pass (model/hooks.ts); none for a plain model. */
  hooks: ModelHooks = NO_HOOKS;

  constructor(
    readonly config: EncoderConfig,
    readonly params: ParamStore,
    readonly head: HeadKind,
  ) {
    this.basePrefix = basePrefixFor(config, head);
    this.specs = expectedParams(config, head);
  }

  forward(x: EncoderInputs, opts: ForwardOptions = {}): ModelOutputs {
    const c = this.config;
    const p = this.params;
    const base = this.basePrefix;
    const drop = new Dropout(opts.training ?? false, opts.dropoutSeed ?? 0);
    const run = { outputHiddenStates: opts.outputHiddenStates, outputAttentions: opts.outputAttentions };
    const hooks = this.hooks;
    const ctx: LinearContext = { hooks, drop };
    const enc = c.family === 'distilbert' ? distilbertEncoder(p, c, base, x, run, drop, hooks) : bertEncoder(p, c, base, x, run, drop, hooks);
    const pooled = hasPooler(c, this.head) ? bertPooler(p, base, enc.lastHiddenState, ctx) : undefined;
    if (this.head === 'none') return { ...enc, pooled };

    let logits: tf.Tensor;
    if (c.family === 'bert') {
      logits = linear(p, 'classifier', drop.apply(pooled!, c.classifierDropout), ctx);
    } else if (c.family === 'roberta') {
      // RobertaClassificationHead: dropout → dense → tanh → dropout → out_proj, on <s>.
      const h = tf.tanh(linear(p, 'classifier.dense', drop.apply(firstToken(enc.lastHiddenState), c.classifierDropout), ctx));
      logits = linear(p, 'classifier.out_proj', drop.apply(h, c.classifierDropout), ctx);
    } else {
      // DistilBertForSequenceClassification: pre_classifier → ReLU → dropout → classifier.
      const h = tf.relu(linear(p, 'pre_classifier', firstToken(enc.lastHiddenState), ctx));
      logits = linear(p, 'classifier', drop.apply(h, c.classifierDropout), ctx);
    }
    return { ...enc, pooled, logits: logits as tf.Tensor2D };
  }

  /** Number of parameters, optionally only those whose name passes `filter`. */
  numParameters(filter?: (name: string) => boolean): number {
    return this.params.numParameters(filter);
  }

  dispose(): void {
    this.params.dispose();
  }
}

/**
 * HF's loss for `*ForSequenceClassification`: mean cross-entropy, mean BCE-with-logits for multi-label,
 * MSE for regression (logits and labels squeezed when there is one label). Returns a scalar.
 * `labels`: int32 [B] for single-label, float32 [B, L] for multi-label, float32 [B] or [B, L] for regression.
 */
export function sequenceClassificationLoss(logits: tf.Tensor2D, labels: tf.Tensor, problem: ProblemType): tf.Scalar {
  const numLabels = logits.shape[1];
  switch (problem) {
    case 'single_label_classification': {
      const logProbs = tf.logSoftmax(logits); // [B, L]
      const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.cast(labels, 'int32').reshape([-1]), numLabels)), 1);
      return tf.neg(tf.mean(picked)) as tf.Scalar;
    }
    case 'multi_label_classification': {
      // BCEWithLogitsLoss in its stable form: max(x,0) − x·y + log(1 + exp(−|x|)).
      const y = tf.cast(labels, 'float32');
      const terms = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
      return tf.mean(terms) as tf.Scalar;
    }
    case 'regression': {
      const pred = numLabels === 1 ? logits.reshape([-1]) : logits;
      const y = tf.cast(labels, 'float32').reshape(pred.shape);
      return tf.mean(tf.squaredDifference(pred, y)) as tf.Scalar;
    }
  }
}
