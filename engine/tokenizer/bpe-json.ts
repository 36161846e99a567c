/**
 * vocab.json + merges.txt → the tokenizer.json that HF's `convert_slow_tokenizer.RobertaConverter` builds:
 * byte-level pre-tokenizer, BPE without unk, `<s> A </s></s> B </s>` post-processing.
 */
import { PeftStudioError } from '../errors';
import type { AddedTokenJson, TokenizerJson } from './hf-lib';
import { boolField, specialTokenIdIn, specialTokens, type JsonObject, type SpecialTokens } from './config';

/** Slow `RobertaTokenizer.__init__` defaults. */
const ROBERTA_DEFAULTS: SpecialTokens = {
  bos_token: '<s>',
  eos_token: '</s>',
  sep_token: '</s>',
  cls_token: '<s>',
  unk_token: '<unk>',
  pad_token: '<pad>',
  mask_token: '<mask>',
};

/** Slow tokenizers whose fast converter is RobertaConverter (GPT-2's BPE + RoBERTa's template). */
const ROBERTA_LIKE_CLASSES = /^(Roberta|Longformer|Bart|Mvp|Led|Blenderbot)Tokenizer(Fast)?$/;

export function isRobertaLikeClass(cfg: JsonObject): boolean {
  return typeof cfg.tokenizer_class !== 'string' || ROBERTA_LIKE_CLASSES.test(cfg.tokenizer_class);
}

/**
 * merges.txt: "#version: 0.2" header, then "left right" per line. The slow tokenizer drops the first line
 * unconditionally; we drop it only when it is the header, and skip blank lines.
 */
export function parseMerges(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[0].startsWith('#version')) lines.shift();
  return lines.filter((l) => l.trim() !== '');
}

export function buildRobertaTokenizerJson(
  vocab: Record<string, number>,
  merges: string[],
  cfg: JsonObject,
  dir: string,
): TokenizerJson {
  if (!isRobertaLikeClass(cfg)) {
    throw new PeftStudioError(
      'UNSUPPORTED',
      `${dir}: tokenizer_class ${String(cfg.tokenizer_class)} with vocab.json + merges.txt is not supported; a tokenizer.json is needed`,
    );
  }
  const specials = specialTokens(cfg, ROBERTA_DEFAULTS);
  const vocabFile = `${dir}/vocab.json`;
  const idOf = (key: keyof SpecialTokens): number => specialTokenIdIn(vocab, specials, key, vocabFile);
  const addPrefixSpace = boolField(cfg, 'add_prefix_space') ?? false;
  const trimOffsets = boolField(cfg, 'trim_offsets') ?? true;

  const added = new Map<number, AddedTokenJson>();
  for (const [key, token] of Object.entries(specials)) {
    const id = vocab[token];
    if (id === undefined) continue;
    // RobertaTokenizer makes <mask> lstrip, so "a <mask>" does not leave a stray "Ġ" before the mask.
    const lstrip = key === 'mask_token';
    added.set(id, { id, content: token, single_word: false, lstrip, rstrip: false, normalized: false, special: true });
  }
  const sep = specials.sep_token ?? '</s>';
  const cls = specials.cls_token ?? '<s>';
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => a.id - b.id),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [sep, idOf('sep_token')],
      cls: [cls, idOf('cls_token')],
      trim_offsets: trimOffsets,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}
