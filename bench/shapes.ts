/** The model shapes benchmarks use: Google's BERT miniatures (Turc et al., 2019), random weights. */
import { tf } from '../engine/backend/tf';
import { BACKEND_NAMES } from '../engine/backend/select';
import { parseConfig, type EncoderConfig } from '../engine/model/config';
import { EncoderModel } from '../engine/model/model';
import { ParamStore } from '../engine/model/params';
import { expectedParams } from '../engine/model/schema';

export const SHAPES: Record<string, { layers: number; hidden: number; heads: number }> = {
  'BERT-Tiny': { layers: 2, hidden: 128, heads: 2 },
  'BERT-Mini': { layers: 4, hidden: 256, heads: 4 },
  'BERT-Small': { layers: 4, hidden: 512, heads: 8 },
  'BERT-Medium': { layers: 8, hidden: 512, heads: 8 },
  'BERT-Base': { layers: 12, hidden: 768, heads: 12 },
};

/** HF BERT's default hidden_dropout_prob and attention_probs_dropout_prob. */
export const HF_DROPOUT = 0.1;

export function shapeConfig(name: string, numLabels = 2, dropout = HF_DROPOUT): EncoderConfig {
  const s = SHAPES[name];
  if (!s) throw new Error(`unknown shape ${name} (known: ${Object.keys(SHAPES).join(', ')})`);
  return parseConfig({
    model_type: 'bert',
    architectures: ['BertForSequenceClassification'],
    vocab_size: 30522,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: 4 * s.hidden,
    max_position_embeddings: 512,
    num_labels: numLabels,
    hidden_dropout_prob: dropout,
    attention_probs_dropout_prob: dropout,
  });
}

/** A BERT classifier of the given shape with random weights (normal(0, 0.02), LayerNorm 1/0). */
export function randomModel(name: string, seed = 0, dropout = HF_DROPOUT): EncoderModel {
  const config = shapeConfig(name, 2, dropout);
  const params = new ParamStore();
  expectedParams(config, 'sequence-classification').forEach((s, i) => {
    const t = s.init === 'normal' ? tf.randomNormal(s.shape, 0, 0.02, 'float32', seed + i) : s.init === 'ones' ? tf.ones(s.shape) : tf.zeros(s.shape);
    params.set(s.name, t);
  });
  return new EncoderModel(config, params, 'sequence-classification');
}

/** A full batch of random token ids (no padding): the worst case for a fixed length. */
export function randomBatch(batch: number, seqLen: number, vocab = 30522, seed = 1) {
  return {
    inputIds: tf.randomUniform([batch, seqLen], 1000, vocab, 'int32', seed) as tf.Tensor2D,
    attentionMask: tf.ones([batch, seqLen], 'int32') as tf.Tensor2D,
    tokenTypeIds: tf.zeros([batch, seqLen], 'int32') as tf.Tensor2D,
  };
}

/** Peak resident set size of this process so far (Linux VmHWM), in MiB; falls back to current RSS. */
export function peakRssMiB(): number {
  try {
    const status = require('node:fs').readFileSync('/proc/self/status', 'utf8') as string;
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / 2 ** 20;
}

/** The command-line options every benchmark takes (parseArgs format); `child` runs one case in-process. */
export function benchOptions(defaultIters: number) {
  return {
    shapes: { type: 'string', default: 'BERT-Tiny,BERT-Mini,BERT-Small' },
    backends: { type: 'string', default: BACKEND_NAMES.join(',') },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '128' },
    iters: { type: 'string', default: String(defaultIters) },
    child: { type: 'string' },
  } as const;
}
