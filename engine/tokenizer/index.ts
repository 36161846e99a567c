/** Tokenization identical to HuggingFace's (slow BertTokenizer for vocab.txt folders), ids for ids. */
export { loadTokenizer, loadTokenizerSync, tokenizerFromJson, tokenizerJsonForDir } from './load';
export { buildBertTokenizerJson, parseVocabTxt } from './wordpiece-json';
export { buildRobertaTokenizerJson, parseMerges } from './bpe-json';
export type { BatchEncoding, EncodeOptions, Encoding, LoadTokenizerOptions, Tokenizer, TokenizerKind } from './types';
