/** Public shapes of the tokenizer module. HF names in comments; camelCase here like the rest of the engine. */

export interface Encoding {
  /** HF `input_ids`, special tokens included. */
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
  /** The token strings behind `inputIds` (for display and debugging; special and pad tokens included). */
  tokens?: string[];
}

export interface EncodeOptions {
  /** Total length including special tokens. Default: the tokenizer's `modelMaxLength`. */
  maxLength?: number;
  /** HF padding: 'longest' (of the batch), 'max_length' (to `maxLength`), false (none, the default). */
  padding?: 'longest' | 'max_length' | false;
  /**
   * HF `truncation=True` (strategy `longest_first`). Sequences longer than `maxLength` are truncated either
   * way, because the model cannot take them; `truncated` in the result says when that happened, so a caller
   * that did not ask for truncation can warn.
   */
  truncation?: boolean;
  /** Round the padded length up to a multiple of this (HF `pad_to_multiple_of`). */
  padToMultipleOf?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  /** Per row: tokens were dropped to fit `maxLength`. */
  truncated: boolean[];
}

export type TokenizerKind = 'wordpiece' | 'bpe' | 'other';

export interface Tokenizer {
  /** One more than the largest id the tokenizer can produce (added tokens included): the embedding rows needed. */
  readonly vocabSize: number;
  readonly padTokenId: number;
  readonly clsTokenId?: number;
  readonly sepTokenId?: number;
  /** -1 when the tokenizer has no unknown token (byte-level BPE never needs one). */
  readonly unkTokenId: number;
  readonly modelMaxLength: number;
  readonly kind: TokenizerKind;
  /** HF `tokenizer.tokenize(text)`: the tokens, without special tokens. */
  tokenize(text: string): string[];
  encode(text: string, pair?: string, opts?: EncodeOptions): Encoding & { truncated: boolean };
  encodeBatch(texts: string[], pairs?: string[], opts?: EncodeOptions): BatchEncoding;
  idToToken(id: number): string | undefined;
  tokenToId(t: string): number | undefined;
}

export interface LoadTokenizerOptions {
  /** The model's `max_position_embeddings` (or another hard cap): `modelMaxLength` never exceeds it. */
  modelMaxLength?: number;
}
