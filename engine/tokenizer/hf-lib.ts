/**
 * The one place the engine loads `@huggingface/tokenizers` (tokenizers.js 0.2.0, a pure-JS port of HF
 * tokenizers).
 *
 * The package is `"type": "module"`; this project compiles to CommonJS. The package also ships a CommonJS
 * build (`exports.node.require`), so we `require` it: loading stays synchronous. Its .d.ts files re-export
 * through extensionless relative paths that do not resolve under `moduleResolution: Node16` (the types
 * silently become `any`), so we declare here the small surface we use, checked against dist/tokenizers.cjs.
 */

export interface HfEncoding {
  ids: number[];
  tokens: string[];
}

/** A tokenizers.js `Tokenizer` (built from a tokenizer.json object + a tokenizer_config object). */
export interface HfTokenizer {
  encode(text: string, options?: { text_pair?: string | null; add_special_tokens?: boolean }): HfEncoding;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  /** Token → id, added tokens included. */
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  /** Called as `normalizer(text)` on every text section that is not an added token; replaceable. */
  normalizer: unknown;
}

/** tokenizers.js normalizers are callable objects: the base constructor returns a function bound to `normalize`. */
export interface HfNormalizer {
  normalize(text: string): string;
}

export interface HfLib {
  Tokenizer: new (tokenizerJson: object, tokenizerConfig: object) => HfTokenizer;
  Normalizer: abstract new (config: object) => HfNormalizer;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const hf = require('@huggingface/tokenizers') as HfLib;

/** tokenizer.json as a plain object. Kept loose on purpose: we read and patch a few known fields. */
export type TokenizerJson = Record<string, unknown> & {
  model: Record<string, unknown>;
  added_tokens?: AddedTokenJson[];
  normalizer?: Record<string, unknown> | null;
  pre_tokenizer?: Record<string, unknown> | null;
  post_processor?: Record<string, unknown> | null;
  padding?: Record<string, unknown> | null;
};

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}
