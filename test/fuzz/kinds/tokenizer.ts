/**
 * Tokenizer files: tokenizer.json (WordPiece and byte-level BPE: vocabularies, merges, added tokens,
 * normalizer / pre-tokenizer / post-processor sections), tokenizer_config.json, vocab.txt and
 * vocab.json + merges.txt, mutated and written to a folder, then loaded and used to encode text.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTokenizerSync } from '../../../engine/tokenizer';
import { buildBertTokenizerJson, parseVocabTxt } from '../../../engine/tokenizer/wordpiece-json';
import { check, type FuzzKind, type Rand } from '../harness';
import { breakJsonText, hostileValue, mutateJson } from '../mutate';

const WORDS = ['the', 'a', 'movie', 'film', 'good', 'bad', 'great', 'is', 'not', 'very', 'it', 'and', '.', ',', '!', 'hello', 'world', '##s', '##ing', '##ed'];
export const VOCAB_LINES = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...'abcdefghijklmnopqrstuvwxyz'.split(''), ...WORDS];
const TEXTS = ['a good movie', 'Hello, WORLD!', 'the film is not very bad.', 'héllo wörld 你好', 'x'.repeat(300), '  spaces  ', 'ünïcödé ##s [CLS] [MASK]', '\u0000\u200b tab\there'];

function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep(b) ? b : 256 + n++);
  return out;
}
const MERGES = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'w or', 'Ġw or', 'wor l', 'Ġwor l', 'worl d', 'Ġworl d'];
export function bpeVocab(): Record<string, number> {
  const v: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (const ch of bytesToUnicode()) v[ch] = Object.keys(v).length;
  for (const m of MERGES) v[m.replace(' ', '')] = Object.keys(v).length;
  v['<mask>'] = Object.keys(v).length;
  return v;
}
const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
function bpeJson(): Record<string, unknown> {
  const v = bpeVocab();
  return {
    version: '1.0',
    added_tokens: [special(0, '<s>'), special(1, '<pad>'), special(2, '</s>'), special(3, '<unk>'), special(v['<mask>']!, '<mask>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab: v, merges: [...MERGES] },
  };
}
const BPE_CONFIG = { tokenizer_class: 'RobertaTokenizer', model_max_length: 512, pad_token: '<pad>', unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>', cls_token: '<s>', sep_token: '</s>', mask_token: '<mask>' };
const BERT_CONFIG = { tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 512 };
const TOKENIZER_KEYS = ['model_max_length', 'pad_token', 'unk_token', 'cls_token', 'sep_token', 'mask_token', 'do_lower_case', 'strip_accents', 'tokenize_chinese_chars', 'tokenizer_class', 'additional_special_tokens', 'added_tokens_decoder', 'add_prefix_space', 'trim_offsets'];
const JSON_KEYS = ['model', 'added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'padding', 'truncation', 'vocab', 'merges', 'unk_token', 'type', 'continuing_subword_prefix', 'max_input_chars_per_word'];

let bertBase: Record<string, unknown> | undefined;

/** Writes one tokenizer folder in one of the four layouts, mutated. Returns its description. */
export function writeTokenizerFolder(dir: string, rand: Rand): string {
  fs.mkdirSync(dir, { recursive: true });
  const w = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  bertBase ??= buildBertTokenizerJson(parseVocabTxt(VOCAB_LINES.join('\n') + '\n'), BERT_CONFIG, 'vocab') as Record<string, unknown>;
  const bert = bertBase;
  const layout = rand.int(4);
  const cfgBase = layout === 1 || layout === 3 ? BPE_CONFIG : BERT_CONFIG;
  const cfg = rand.chance(0.35) ? mutateJson(cfgBase, rand, TOKENIZER_KEYS) : cfgBase;
  w('tokenizer_config.json', rand.chance(0.05) ? breakJsonText(JSON.stringify(cfgBase), rand) : JSON.stringify(cfg));
  const mutateModel = (json: Record<string, unknown>): unknown => {
    const op = rand.int(4);
    if (op === 0) return json;
    if (op === 1) return mutateJson(json, rand, JSON_KEYS);
    const copy = structuredClone(json) as { model: Record<string, unknown> };
    copy.model = mutateJson(copy.model, rand, JSON_KEYS) as Record<string, unknown>;
    const merges = copy.model?.merges;
    if (op === 3 && Array.isArray(merges) && merges.length) {
      merges[rand.int(merges.length)] = rand.pick(['hell', 'h  e', 'h e l', 'q z', '', ' ', 'Ġ', 'e h', hostileValue(rand)]);
    }
    return copy;
  };
  switch (layout) {
    case 0:
      w('tokenizer.json', rand.chance(0.05) ? breakJsonText(JSON.stringify(bert), rand) : JSON.stringify(mutateModel(bert)));
      return 'WordPiece tokenizer.json';
    case 1:
      w('tokenizer.json', rand.chance(0.05) ? breakJsonText(JSON.stringify(bpeJson()), rand) : JSON.stringify(mutateModel(bpeJson())));
      return 'BPE tokenizer.json';
    case 2: {
      const lines = [...VOCAB_LINES];
      for (let e = rand.int(4); e > 0; e--) {
        const at = rand.int(lines.length);
        if (rand.chance(0.5)) lines.splice(at, 1);
        else lines[at] = rand.pick(['', ' ', '\r', '[CLS]', '[UNK]', '\u0000', 'a b', 'x'.repeat(200)]);
      }
      w('vocab.txt', rand.chance(0.05) ? '' : lines.join(rand.pick(['\n', '\r\n', '\r'])));
      return 'vocab.txt';
    }
    default: {
      const vocab = rand.chance(0.4) ? mutateJson(bpeVocab(), rand) : bpeVocab();
      w('vocab.json', JSON.stringify(vocab));
      const merges = [...MERGES];
      if (rand.chance(0.6)) merges[rand.int(merges.length)] = rand.pick(['hell', 'h  e', 'h e l', 'q z', '#version: 0.2', 'Ġ Ġ', 'a\tb']);
      w('merges.txt', `#version: 0.2\n${merges.join('\n')}\n`);
      return 'vocab.json + merges.txt';
    }
  }
}

let root = '';

export const tokenizerKind: FuzzKind = {
  name: 'tokenizer files',
  cases: 1000,
  setup() {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-fuzz-tok-'));
  },
  teardown() {
    fs.rmSync(root, { recursive: true, force: true });
  },
  make(rand, i) {
    const dir = path.join(root, `t${i}`);
    const label = writeTokenizerFolder(dir, rand);
    const maxLength = rand.pick([8, 16, 64, 512]);
    return {
      label,
      file: dir,
      run() {
        const tok = loadTokenizerSync(dir, { modelMaxLength: rand.pick([undefined, 32, 512]) });
        check(Number.isInteger(tok.vocabSize) && tok.vocabSize >= 1, `vocabSize ${tok.vocabSize}`);
        check(Number.isInteger(tok.modelMaxLength) && tok.modelMaxLength >= 1, `modelMaxLength ${tok.modelMaxLength}`);
        const texts = [rand.pick(TEXTS), rand.pick(TEXTS)];
        const enc = tok.encodeBatch(texts, rand.chance(0.3) ? [rand.pick(TEXTS), rand.pick(TEXTS)] : undefined, { maxLength, padding: 'longest', truncation: true });
        for (const ids of enc.inputIds) {
          check(ids.length <= maxLength, `${ids.length} ids for maxLength ${maxLength}`);
          check(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize), `ids ${ids.slice(0, 8)} outside [0, ${tok.vocabSize})`);
        }
        check(enc.attentionMask.every((m, r) => m.length === enc.inputIds[r]!.length), 'mask length');
      },
    };
  },
};
