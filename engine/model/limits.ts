import type { EncoderModel } from './model';

/** Longest input the position embeddings allow (RoBERTa spends padding_idx + 1 of them). */
export function maxTokens(model: EncoderModel): number {
  const c = model.config;
  return c.family === 'roberta' ? c.maxPositionEmbeddings - c.padTokenId - 1 : c.maxPositionEmbeddings;
}
