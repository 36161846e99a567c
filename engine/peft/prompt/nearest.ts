/**
 * What a virtual token "reads as": the vocabulary tokens whose word embeddings point the same way (cosine
 * similarity), for the what-moved grid and `inspect --adapter`.
 */
import { tf } from '../../backend/tf';
import type { Tokenizer } from '../../tokenizer/types';

export interface NearestToken {
  id: number;
  /** The token's text, or `#id` without a tokenizer. */
  token: string;
  cosine: number;
}

/** For each of the `n` rows of `rows` ([n, H] flat), the `k` vocabulary tokens nearest by cosine. */
export function nearestTokens(rows: Float32Array, n: number, words: tf.Tensor, k: number, tokenizer?: Tokenizer): NearestToken[][] {
  const [vocab, h] = words.shape as [number, number];
  const kk = Math.min(k, vocab);
  const { values, indices } = tf.tidy(() => {
    const unit = (x: tf.Tensor) => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12));
    const sims = tf.matMul(unit(tf.tensor2d(rows, [n, h])), unit(words), false, true); // [n, V]
    const top = tf.topk(sims, kk);
    return { values: top.values, indices: top.indices };
  });
  const v = values.dataSync();
  const ix = indices.dataSync();
  tf.dispose([values, indices]);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: kk }, (_, j) => {
      const id = ix[i * kk + j]!;
      return { id, token: tokenizer?.idToToken(id) ?? `#${id}`, cosine: v[i * kk + j]! };
    }),
  );
}

/** Lines for a terminal: `v0  start: the 0.41, a 0.39 …  now: good 0.52, …`. */
export function formatNearest(nearest: { start?: NearestToken[][]; now: NearestToken[][] }): string[] {
  const fmt = (l: NearestToken[]) => l.map((t) => `${t.token} ${t.cosine.toFixed(2)}`).join(', ');
  return nearest.now.map((now, i) => `  v${i}  ${nearest.start ? `start: ${fmt(nearest.start[i]!)}   now: ` : ''}${fmt(now)}`);
}
