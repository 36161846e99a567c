/**
 * Tokenizer against HF's own outputs (the shared fixtures: slow BertTokenizer, transformers 4.30.2), plus the
 * byte-level BPE path, truncation, padding and the error cases.
 */
import { after, test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { loadTokenizer, loadTokenizerSync, tokenizerJsonForDir, type Tokenizer } from './index';
import { longestFirstLengths } from './truncate';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const BERT_DIRS = ['hf-bert-tiny', 'tok-bert-base-uncased'];

function fixtureDir(name: string): string {
  const dir = path.join(FIXTURES, name);
  if (!fs.existsSync(path.join(dir, 'tokenize.json'))) {
    throw new Error(`fixtures not found at ${dir}: the shared fixtures checkout ../shared (next to the repo) is required`);
  }
  return dir;
}

interface Case {
  text: string;
  tokens?: string[];
  input_ids: number[];
  token_type_ids?: number[];
  attention_mask?: number[];
}
interface PairCase {
  text_a: string;
  text_b: string;
  input_ids: number[];
  token_type_ids: number[];
}
interface TokenizeFixture {
  sentences: Case[];
  pairs: PairCase[];
  batch_padded: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  extra?: Case[];
}

function readFixture(dir: string): TokenizeFixture {
  return JSON.parse(fs.readFileSync(path.join(dir, 'tokenize.json'), 'utf8')) as TokenizeFixture;
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-tok-'));
  tmpDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function isCode(code: string, re?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof PeftStudioError, `expected a PeftStudioError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return true;
  };
}

/** Every case of one tokenize.json: returns how many were checked. */
function checkAgainstFixture(tok: Tokenizer, fx: TokenizeFixture): number {
  let n = 0;
  for (const c of [...fx.sentences, ...(fx.extra ?? [])]) {
    if (c.tokens) assert.deepEqual(tok.tokenize(c.text), c.tokens, `tokens of ${JSON.stringify(c.text)}`);
    const e = tok.encode(c.text);
    assert.deepEqual(e.inputIds, c.input_ids, `ids of ${JSON.stringify(c.text)}`);
    if (c.token_type_ids) assert.deepEqual(e.tokenTypeIds, c.token_type_ids);
    assert.deepEqual(e.attentionMask, c.attention_mask ?? c.input_ids.map(() => 1));
    assert.equal(e.truncated, false);
    n++;
  }
  for (const p of fx.pairs) {
    const e = tok.encode(p.text_a, p.text_b);
    assert.deepEqual(e.inputIds, p.input_ids, `ids of pair ${JSON.stringify(p.text_a)} / ${JSON.stringify(p.text_b)}`);
    assert.deepEqual(e.tokenTypeIds, p.token_type_ids);
    n++;
  }
  // The fixture's call: tok(sentences, padding='max_length', truncation=True, max_length=16).
  const b = tok.encodeBatch(
    fx.sentences.map((s) => s.text),
    undefined,
    { padding: 'max_length', truncation: true, maxLength: 16 },
  );
  assert.deepEqual(b.inputIds, fx.batch_padded.input_ids);
  assert.deepEqual(b.tokenTypeIds, fx.batch_padded.token_type_ids);
  assert.deepEqual(b.attentionMask, fx.batch_padded.attention_mask);
  assert.deepEqual(
    b.truncated,
    fx.sentences.map((s) => s.input_ids.length > 16),
  );
  return n + 1;
}

describe('BERT WordPiece from vocab.txt matches HF slow BertTokenizer', () => {
  for (const name of BERT_DIRS) {
    test(name, async () => {
      const dir = fixtureDir(name);
      const tok = await loadTokenizer(dir);
      assert.equal(tok.kind, 'wordpiece');
      const fx = readFixture(dir);
      const n = checkAgainstFixture(tok, fx);
      assert.ok(n >= 8, `checked ${n} cases`);
      // Special ids come from the vocab, not BERT's usual numbers.
      const vocab = fs.readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n');
      assert.equal(tok.clsTokenId, vocab.indexOf('[CLS]'));
      assert.equal(tok.sepTokenId, vocab.indexOf('[SEP]'));
      assert.equal(tok.padTokenId, vocab.indexOf('[PAD]'));
      assert.equal(tok.unkTokenId, vocab.indexOf('[UNK]'));
      assert.equal(tok.vocabSize, vocab.filter((l, i) => i < vocab.length - 1 || l !== '').length);
      assert.equal(tok.modelMaxLength, 512);
      assert.equal(tok.idToToken(tok.clsTokenId!), '[CLS]');
      assert.equal(tok.tokenToId('[SEP]'), tok.sepTokenId);
    });
  }

  test('the 50 SST-2 sentences of tok-bert-base-uncased are all checked', () => {
    assert.equal(readFixture(fixtureDir('tok-bert-base-uncased')).extra?.length, 50);
  });
});

describe('tokenizer.json written to disk', () => {
  for (const name of BERT_DIRS) {
    test(`${name}: the generated tokenizer.json, loaded from a file, gives the same ids`, async () => {
      const src = fixtureDir(name);
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJsonForDir(src)));
      fs.copyFileSync(path.join(src, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
      assert.ok(!fs.existsSync(path.join(dir, 'vocab.txt')));
      const tok = await loadTokenizer(dir);
      checkAgainstFixture(tok, readFixture(src));
    });
  }
});

describe('HF semantics beyond the fixtures', () => {
  const tok = () => loadTokenizerSync(fixtureDir('tok-bert-base-uncased'));

  test('CJK ideographs outside the BMP are split out like BMP ones (HF per code point)', () => {
    // U+20000 (CJK Ext. B) is not in the vocab: HF spaces it out, so its neighbours stay words of their own.
    assert.deepEqual(tok().tokenize('a\u{20000}b'), ['a', '[UNK]', 'b']);
    assert.deepEqual(tok().tokenize('a中b'), ['a', '中', 'b']);
  });

  test('control and unassigned characters are dropped, special tokens in text stay whole', () => {
    assert.deepEqual(tok().tokenize('he\u0000llo\u200b \u{e0080}world'), ['hello', 'world']);
    assert.deepEqual(tok().tokenize('hello [SEP] world'), ['hello', '[SEP]', 'world']);
  });

  test('padding longest and padToMultipleOf', () => {
    const t = tok();
    const b = t.encodeBatch(['a b c', 'a'], undefined, { padding: 'longest' });
    assert.deepEqual(b.inputIds.map((r) => r.length), [5, 5]);
    assert.deepEqual(b.attentionMask[1], [1, 1, 1, 0, 0]);
    assert.deepEqual(b.inputIds[1].slice(3), [t.padTokenId, t.padTokenId]);
    const m = t.encodeBatch(['a b c', 'a'], undefined, { padding: 'longest', padToMultipleOf: 8 });
    assert.deepEqual(m.inputIds.map((r) => r.length), [8, 8]);
    const single = t.encode('a', undefined, { padding: 'max_length', maxLength: 6 });
    assert.deepEqual(single.attentionMask, [1, 1, 1, 0, 0, 0]);
    assert.deepEqual(single.tokens, ['[CLS]', 'a', '[SEP]', '[PAD]', '[PAD]', '[PAD]']);
    const ragged = t.encodeBatch(['a b c', 'a']);
    assert.deepEqual(ragged.inputIds.map((r) => r.length), [5, 3]);
  });
});

describe('truncation', () => {
  const tok = () => loadTokenizerSync(fixtureDir('tok-bert-base-uncased'));
  const words = (n: number, w = 'word') => Array.from({ length: n }, () => w).join(' ');

  test('over-long text is truncated to maxLength and flagged, with or without truncation: true', () => {
    const t = tok();
    for (const truncation of [undefined, false, true]) {
      const e = t.encode(words(20), undefined, { maxLength: 8, truncation });
      assert.equal(e.inputIds.length, 8);
      assert.equal(e.truncated, true);
      assert.equal(e.inputIds[0], t.clsTokenId);
      assert.equal(e.inputIds[7], t.sepTokenId);
    }
    assert.equal(t.encode(words(6), undefined, { maxLength: 8 }).truncated, false);
  });

  test('default maxLength is modelMaxLength, capped by the caller', async () => {
    const long = words(600);
    const t = tok();
    const e = t.encode(long);
    assert.equal(e.inputIds.length, 512);
    assert.equal(e.truncated, true);
    const capped = await loadTokenizer(fixtureDir('tok-bert-base-uncased'), { modelMaxLength: 128 });
    assert.equal(capped.modelMaxLength, 128);
    assert.equal(capped.encode(long).inputIds.length, 128);
    assert.deepEqual(capped.encodeBatch([long, 'short'], undefined, { padding: 'longest' }).truncated, [true, false]);
  });

  test('HF sentinel model_max_length 1e30 means unset', async () => {
    const src = fixtureDir('hf-bert-tiny');
    const dir = tmpDir();
    fs.copyFileSync(path.join(src, 'vocab.txt'), path.join(dir, 'vocab.txt'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e30 }));
    assert.equal((await loadTokenizer(dir, { modelMaxLength: 64 })).modelMaxLength, 64);
    assert.equal((await loadTokenizer(dir)).modelMaxLength, 512);
  });

  test('pairs: longest_first removes from the longer, from the second on ties (slow HF loop)', () => {
    const slowLoop = (a: number, b: number, k: number): [number, number] => {
      for (let i = 0; i < k; i++) {
        if (a > b) a = Math.max(0, a - 1);
        else b = Math.max(0, b - 1);
      }
      return [a, b];
    };
    for (let a = 0; a <= 12; a++) {
      for (let b = 0; b <= 12; b++) {
        for (let k = 0; k <= a + b; k++) assert.deepEqual(longestFirstLengths(a, b, k), slowLoop(a, b, k), `${a} ${b} ${k}`);
      }
    }
    const t = tok();
    const a = t.encode(words(5, 'cat'), words(5, 'dog'), { maxLength: 10, truncation: true }); // 13 → 10: remove 3
    const cat = t.tokenToId('cat')!;
    const dog = t.tokenToId('dog')!;
    const [cls, sep] = [t.clsTokenId!, t.sepTokenId!];
    assert.deepEqual(a.inputIds, [cls, cat, cat, cat, cat, sep, dog, dog, dog, sep]);
    assert.deepEqual(a.tokenTypeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert.equal(a.truncated, true);
    const b = t.encode(words(8, 'cat'), words(2, 'dog'), { maxLength: 9 }); // 13 → 9: all from the first
    assert.deepEqual(b.inputIds, [cls, cat, cat, cat, cat, sep, dog, dog, sep]);
  });

  test('maxLength that leaves no room for text is refused', () => {
    assert.throws(() => tok().encode('hello', 'world', { maxLength: 3 }), isCode('BAD_INPUT', /maxLength 3/));
  });
});

describe('byte-level BPE (RoBERTa style)', () => {
  // A tiny GPT-2 byte alphabet + a few merges: "hello", "Ġworld", "world".
  function bytesToUnicode(): string[] {
    const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const out: string[] = [];
    let n = 0;
    for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep(b) ? b : 256 + n++);
    return out;
  }
  const merges = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'w or', 'Ġw or', 'wor l', 'Ġwor l', 'worl d', 'Ġworl d'];
  function vocab(): Record<string, number> {
    const v: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
    for (const ch of bytesToUnicode()) v[ch] = Object.keys(v).length;
    for (const m of merges) v[m.replace(' ', '')] = Object.keys(v).length;
    v['<mask>'] = Object.keys(v).length;
    return v;
  }
  const special = (id: number, content: string, lstrip = false) => ({
    id,
    content,
    single_word: false,
    lstrip,
    rstrip: false,
    normalized: false,
    special: true,
  });
  function tokenizerJson() {
    const v = vocab();
    return {
      version: '1.0',
      added_tokens: [special(0, '<s>'), special(1, '<pad>'), special(2, '</s>'), special(3, '<unk>'), special(v['<mask>'], '<mask>', true)],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab: v, merges },
    };
  }
  const config = { tokenizer_class: 'RobertaTokenizer', model_max_length: 512, pad_token: '<pad>', unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>', cls_token: '<s>', sep_token: '</s>', mask_token: { content: '<mask>', lstrip: true, __type: 'AddedToken' } };

  function check(tok: Tokenizer): void {
    const v = vocab();
    assert.equal(tok.kind, 'bpe');
    assert.deepEqual([tok.clsTokenId, tok.sepTokenId, tok.padTokenId, tok.unkTokenId], [0, 2, 1, 3]);
    assert.deepEqual(tok.tokenize('hello world'), ['hello', 'Ġworld']);
    const one = tok.encode('hello world');
    assert.deepEqual(one.inputIds, [0, v.hello, v['Ġworld'], 2]);
    assert.deepEqual(one.tokenTypeIds, [0, 0, 0, 0]);
    const pair = tok.encode('hello world', 'world!');
    assert.deepEqual(pair.inputIds, [0, v.hello, v['Ġworld'], 2, 2, v.world, v['!'], 2]);
    assert.deepEqual(pair.tokens, ['<s>', 'hello', 'Ġworld', '</s>', '</s>', 'world', '!', '</s>']);
    assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0]); // RoBERTa has a single token type
    assert.deepEqual(tok.tokenize('hello <mask>'), ['hello', '<mask>']); // <mask> swallows the space (lstrip)
    assert.deepEqual(tok.tokenize('é'), ['Ã', '©']); // bytes, never unknown
    const padded = tok.encodeBatch(['hello', 'hello world'], undefined, { padding: 'longest' });
    assert.deepEqual(padded.inputIds[0], [0, v.hello, 2, 1]);
    assert.equal(tok.vocabSize, v['<mask>'] + 1);
  }

  test('from a hand-made tokenizer.json', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    check(await loadTokenizer(dir));
  });

  test('a malformed merge line is BAD_CONFIG naming the file and the merge, never an error inside encoding', async () => {
    for (const [bad, why] of [
      ['hell', /merge 4 of "model.merges" \("hell"\) is not two tokens separated by one space/],
      ['he  ll', /is not two tokens/],
      ['h e l', /is not two tokens/],
      ['q z', /token "z" is not in "model.vocab"|merged token "qz" is not in "model.vocab"/],
    ] as const) {
      const dir = tmpDir();
      const json = tokenizerJson();
      json.model.merges = [...merges];
      json.model.merges[3] = bad;
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
      fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
      await assert.rejects(loadTokenizer(dir), isCode('BAD_CONFIG', new RegExp(`${path.join(dir, 'tokenizer.json')}: .*${why.source}`)));
    }
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab()));
    fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${merges.slice(0, 3).join('\n')}\nhell\n`);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    await assert.rejects(loadTokenizer(dir), isCode('BAD_CONFIG', /merges\.txt: merge 4 of "model\.merges" \("hell"\)/));
  });

  test('from vocab.json + merges.txt (RobertaConverter built in memory)', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab()));
    fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    check(await loadTokenizer(dir));
  });
});

describe('errors', () => {
  test('a folder without vocab.txt or tokenizer.json: MISSING_FILE naming the folder and the files', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
    await assert.rejects(loadTokenizer(dir), isCode('MISSING_FILE', new RegExp(`${dir}.*vocab\\.txt`)));
    await assert.rejects(loadTokenizer(path.join(dir, 'nope')), isCode('MISSING_FILE', /does not exist/));
  });

  test('special tokens missing from vocab.txt: BAD_CONFIG', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'vocab.txt'), '[PAD]\n[UNK]\nhello\n');
    await assert.rejects(loadTokenizer(dir), isCode('BAD_CONFIG', /vocab\.txt has no cls_token "\[CLS\]"/));
  });

  test('malformed tokenizer_config.json: BAD_CONFIG naming the file', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{oops');
    await assert.rejects(loadTokenizer(dir), isCode('BAD_CONFIG', /tokenizer_config\.json is not valid JSON/));
  });

  test('a WordPiece tokenizer.json with an empty vocabulary, or an unk_token outside it: BAD_CONFIG naming the field', async () => {
    const json = tokenizerJsonForDir(fixtureDir('hf-bert-tiny'));
    for (const [edit, re] of [
      [(m: Record<string, unknown>) => void (m.vocab = {}), /"model\.vocab" of the WordPiece tokenizer is empty/],
      [(m: Record<string, unknown>) => void (m.vocab = []), /"model\.vocab" must be an object/],
      [(m: Record<string, unknown>) => void (m.unk_token = '[NOPE]'), /"model\.unk_token" "\[NOPE\]" must be a token of "model\.vocab"/],
      [(m: Record<string, unknown>) => void ((m.vocab as Record<string, unknown>)['[UNK]'] = -3), /token "\[UNK\]" has id -3/],
    ] as const) {
      const dir = tmpDir();
      const copy = JSON.parse(JSON.stringify(json));
      edit(copy.model);
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(copy));
      await assert.rejects(loadTokenizer(dir), isCode('BAD_CONFIG', new RegExp(`${path.join(dir, 'tokenizer.json')}: .*${re.source}`)));
    }
  });

  test('model_max_length that is not a positive integer: BAD_CONFIG naming the field', async () => {
    for (const v of [-5, 0, 1.5, '512', true]) {
      const dir = tmpDir();
      fs.copyFileSync(path.join(fixtureDir('hf-bert-tiny'), 'vocab.txt'), path.join(dir, 'vocab.txt'));
      fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: v }));
      await assert.rejects(loadTokenizer(dir), isCode('BAD_CONFIG', /tokenizer_config\.json: field "model_max_length" must be a positive integer/));
    }
    const dir = tmpDir();
    fs.copyFileSync(path.join(fixtureDir('hf-bert-tiny'), 'vocab.txt'), path.join(dir, 'vocab.txt'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e30 }));
    assert.equal((await loadTokenizer(dir, { modelMaxLength: 64 })).modelMaxLength, 64);
  });

  test('empty text: BAD_INPUT', () => {
    const t = loadTokenizerSync(fixtureDir('hf-bert-tiny'));
    assert.throws(() => t.encode(''), isCode('BAD_INPUT', /empty text/));
    assert.throws(() => t.encode('  \n\t '), isCode('BAD_INPUT', /empty text/));
    assert.throws(() => t.encode('fine', ' '), isCode('BAD_INPUT', /empty text: pair text/));
    assert.throws(() => t.encodeBatch(['ok', '']), isCode('BAD_INPUT', /empty text: text 1/));
    assert.throws(() => t.tokenize(''), isCode('BAD_INPUT', /empty text/));
    assert.throws(() => t.encodeBatch(['a', 'b'], ['c']), isCode('BAD_INPUT'));
    assert.throws(() => t.encode('a', undefined, { maxLength: 0 }), isCode('BAD_INPUT', /maxLength/));
  });
});
