import { PeftStudioError } from '../errors';
import type { Tokenizer } from '../tokenizer/types';
import type { EncoderModel } from './model';

/**
 * Longest input the position embeddings allow (RoBERTa spends padding_idx + 1 of them), less the virtual
 * tokens of a method's prompt or prefix, which take positions too.
 */
export function maxTokens(model: EncoderModel): number {
  const c = model.config;
  const positions = c.family === 'roberta' ? c.maxPositionEmbeddings - c.padTokenId - 1 : c.maxPositionEmbeddings;
  return positions - (model.hooks.promptLength?.() ?? 0) - (model.hooks.prefixLength?.() ?? 0);
}

/**
 * Token ids and token type ids must index the model's embedding tables. A tokenizer larger than the model's
 * vocabulary (or a post-processor with more token types) would otherwise fail inside a gather kernel.
 */
export function checkIdsFit(model: EncoderModel, rows: { inputIds: number[]; tokenTypeIds: number[] }[], tokenizer: Tokenizer, dir: string, what = 'input'): void {
  const c = model.config;
  const types = Math.max(c.typeVocabSize, 1);
  rows.forEach((r, i) => {
    const bad = r.inputIds.find((id) => !(id >= 0 && id < c.vocabSize));
    if (bad !== undefined) {
      throw new PeftStudioError(
        'WEIGHTS_MISMATCH',
        `${dir}: the tokenizer gave token id ${bad} (${JSON.stringify(tokenizer.idToToken(bad) ?? '?')}) for ${what} ${i + 1}, past the model's vocabulary of ${c.vocabSize} (config.json vocab_size): the tokenizer does not belong to this model`,
        dir,
      );
    }
    // DistilBERT has no token-type embeddings: it never reads them.
    const badType = c.family === 'distilbert' ? undefined : r.tokenTypeIds.find((t) => !(t >= 0 && t < types));
    if (badType !== undefined) {
      throw new PeftStudioError('WEIGHTS_MISMATCH', `${dir}: the tokenizer gave token type ${badType} for ${what} ${i + 1}, but the model has ${types} token type(s) (config.json type_vocab_size)`, dir);
    }
  });
}
