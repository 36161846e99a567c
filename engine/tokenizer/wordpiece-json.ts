/**
 * vocab.txt + tokenizer_config.json → the tokenizer.json that HF's `convert_slow_tokenizer.BertConverter`
 * builds (what `BertTokenizerFast.from_pretrained` does for a folder without tokenizer.json). It reproduces
 * the slow `BertTokenizer` ids exactly on the fixtures.
 */
import { PeftStudioError } from '../errors';
import type { AddedTokenJson, TokenizerJson } from './hf-lib';
import { boolField, specialTokenIdIn, specialTokens, tokenContent, type JsonObject, type SpecialTokens } from './config';

/** Slow `BertTokenizer.__init__` defaults. */
const BERT_DEFAULTS: SpecialTokens = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};

/** Tokenizer classes whose slow tokenizer is `BertTokenizer` with the [CLS] A [SEP] B [SEP] template. */
const BERT_LIKE_CLASSES =
  /^(Bert|DistilBert|Electra|MobileBert|SqueezeBert|LayoutLM|RetriBert|Lxmert|ConvBert)Tokenizer(Fast)?$/;

/**
 * HF `load_vocab`: one token per line, id = line number. Python reads in universal-newline mode, so \r\n and
 * \r end lines too; a later duplicate wins, like the Python dict. Null-prototype object: a vocab may hold
 * "__proto__" or "constructor".
 */
export function parseVocabTxt(text: string): Record<string, number> {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends a line, adds none
  const vocab: Record<string, number> = Object.create(null);
  lines.forEach((token, id) => {
    vocab[token] = id;
  });
  return vocab;
}

export function isBertLikeClass(cfg: JsonObject): boolean {
  return typeof cfg.tokenizer_class !== 'string' || BERT_LIKE_CLASSES.test(cfg.tokenizer_class);
}

function optBool(cfg: JsonObject, key: string, dflt: boolean): boolean {
  const v = cfg[key];
  return typeof v === 'boolean' ? v : dflt;
}

/**
 * @param vocab parsed vocab.txt
 * @param cfg tokenizer_config.json overlaid with special_tokens_map.json
 * @param extraAdded added_tokens.json of old slow checkpoints ({token: id}), if present
 * @param dir the folder, for error messages
 */
export function buildBertTokenizerJson(
  vocab: Record<string, number>,
  cfg: JsonObject,
  dir: string,
  extraAdded: Record<string, number> = {},
): TokenizerJson {
  if (!isBertLikeClass(cfg)) {
    throw new PeftStudioError(
      'UNSUPPORTED',
      `${dir}: tokenizer_class ${String(cfg.tokenizer_class)} is not a BERT WordPiece tokenizer; a tokenizer.json is needed`,
    );
  }
  if (cfg.do_basic_tokenize === false) {
    // The fast converter ignores this flag, the slow tokenizer honours it: no single behaviour to match.
    throw new PeftStudioError('UNSUPPORTED', `${dir}: do_basic_tokenize=false is not supported; a tokenizer.json is needed`);
  }
  const specials = specialTokens(cfg, BERT_DEFAULTS);
  const vocabFile = `${dir}/vocab.txt`;
  const idOf = (key: keyof SpecialTokens): number => specialTokenIdIn(vocab, specials, key, vocabFile);
  const cls = specials.cls_token!;
  const sep = specials.sep_token!;
  const clsId = idOf('cls_token');
  const sepId = idOf('sep_token');
  const unk = specials.unk_token;
  if (unk === undefined) throw new PeftStudioError('BAD_CONFIG', `${dir}: the WordPiece tokenizer needs an unk_token`);
  idOf('unk_token');

  const added = new Map<number, AddedTokenJson>();
  const add = (t: AddedTokenJson): void => void added.set(t.id, t);
  // Every special token becomes an added token (never split, never normalized), as PreTrainedTokenizerFast does.
  for (const token of Object.values(specials)) {
    const id = vocab[token];
    if (id === undefined) continue; // e.g. a mask token missing from a trimmed vocab: only cls/sep/unk are required
    add({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  for (const t of (cfg.additional_special_tokens as unknown[] | undefined) ?? []) {
    const content = tokenContent(t);
    const id = content === undefined ? undefined : vocab[content];
    if (content === undefined || id === undefined) continue;
    add({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  // transformers >= 4.34 records every added token with its id and flags here.
  const decoderEntries = cfg.added_tokens_decoder;
  if (decoderEntries && typeof decoderEntries === 'object') {
    for (const [idText, t] of Object.entries(decoderEntries as JsonObject)) {
      const content = tokenContent(t);
      if (content === undefined) continue;
      const special = boolField(t, 'special') ?? false;
      add({
        id: Number(idText),
        content,
        single_word: boolField(t, 'single_word') ?? false,
        lstrip: boolField(t, 'lstrip') ?? false,
        rstrip: boolField(t, 'rstrip') ?? false,
        normalized: boolField(t, 'normalized') ?? !special,
        special,
      });
    }
  }
  for (const [content, id] of Object.entries(extraAdded)) {
    if (!added.has(id)) add({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
  }

  const lowercase = optBool(cfg, 'do_lower_case', true);
  const stripAccents = typeof cfg.strip_accents === 'boolean' ? cfg.strip_accents : null; // null: follow lowercase
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => a.id - b.id),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: optBool(cfg, 'tokenize_chinese_chars', true),
      strip_accents: stripAccents,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [clsId], tokens: [cls] },
        [sep]: { id: sep, ids: [sepId], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}
