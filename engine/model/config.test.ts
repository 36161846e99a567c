/**
 * config.json → EncoderConfig: BERT fields and HF class defaults, DistilBERT's own key names mapped onto
 * BERT's, RoBERTa's padding default, label maps as PretrainedConfig builds them, HF's problem-type rule,
 * and errors that name the file and the field at fault.
 */
import assert from 'node:assert/strict';
import { expectError } from '../../test/helpers/expect-error';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig, readConfig, resolveProblemType } from './config';

const BERT = {
  architectures: ['BertForSequenceClassification'],
  attention_probs_dropout_prob: 0.15,
  classifier_dropout: null,
  hidden_act: 'gelu_new',
  hidden_dropout_prob: 0.05,
  hidden_size: 96,
  initializer_range: 0.03,
  intermediate_size: 384,
  layer_norm_eps: 1e-7,
  max_position_embeddings: 256,
  model_type: 'bert',
  num_attention_heads: 6,
  num_hidden_layers: 3,
  pad_token_id: 4,
  position_embedding_type: 'absolute',
  type_vocab_size: 3,
  vocab_size: 500,
};

const DISTILBERT = {
  activation: 'relu',
  architectures: ['DistilBertForSequenceClassification'],
  attention_dropout: 0.11,
  dim: 64,
  dropout: 0.12,
  hidden_dim: 200,
  initializer_range: 0.02,
  max_position_embeddings: 128,
  model_type: 'distilbert',
  n_heads: 8,
  n_layers: 5,
  pad_token_id: 0,
  qa_dropout: 0.1,
  seq_classif_dropout: 0.3,
  sinusoidal_pos_embds: false,
  vocab_size: 300,
};

/** The same config with some keys replaced (undefined deletes the key). */
function withKeys(base: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

describe('parseConfig: BERT', () => {
  it('reads every field under its BERT name', () => {
    const c = parseConfig(BERT);
    assert.equal(c.family, 'bert');
    assert.equal(c.architecture, 'BertForSequenceClassification');
    assert.equal(c.vocabSize, 500);
    assert.equal(c.hiddenSize, 96);
    assert.equal(c.numHiddenLayers, 3);
    assert.equal(c.numAttentionHeads, 6);
    assert.equal(c.intermediateSize, 384);
    assert.equal(c.hiddenAct, 'gelu_new');
    assert.equal(c.maxPositionEmbeddings, 256);
    assert.equal(c.typeVocabSize, 3);
    assert.equal(c.layerNormEps, 1e-7);
    assert.equal(c.padTokenId, 4);
    assert.equal(c.initializerRange, 0.03);
    assert.equal(c.hiddenDropoutProb, 0.05);
    assert.equal(c.attentionProbsDropoutProb, 0.15);
    assert.equal(c.classifierDropout, 0.05, 'classifier_dropout null falls back to hidden_dropout_prob, as in HF');
    assert.equal(c.problemType, null);
    assert.equal(c.raw, BERT);
  });

  it('takes HF BertConfig defaults for everything but the shape fields', () => {
    const c = parseConfig({ model_type: 'bert', vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 });
    assert.equal(c.architecture, 'BertModel');
    assert.equal(c.hiddenAct, 'gelu');
    assert.equal(c.maxPositionEmbeddings, 512);
    assert.equal(c.typeVocabSize, 2);
    assert.equal(c.layerNormEps, 1e-12);
    assert.equal(c.padTokenId, 0);
    assert.equal(c.initializerRange, 0.02);
    assert.equal(c.hiddenDropoutProb, 0.1);
    assert.equal(c.attentionProbsDropoutProb, 0.1);
    assert.equal(c.classifierDropout, 0.1);
    // PretrainedConfig's default: two labels named LABEL_0 / LABEL_1.
    assert.equal(c.numLabels, 2);
    assert.deepEqual(c.id2label, { 0: 'LABEL_0', 1: 'LABEL_1' });
    assert.deepEqual(c.label2id, { LABEL_0: 0, LABEL_1: 1 });
  });

  it('an explicit classifier_dropout is used as is', () => {
    assert.equal(parseConfig(withKeys(BERT, { classifier_dropout: 0.4 })).classifierDropout, 0.4);
  });

  it('recognises the family from architectures when model_type is absent', () => {
    assert.equal(parseConfig(withKeys(BERT, { model_type: undefined })).family, 'bert');
    assert.equal(parseConfig(withKeys(DISTILBERT, { model_type: undefined })).family, 'distilbert');
    expectError(() => parseConfig(withKeys(BERT, { model_type: undefined, architectures: undefined })), 'BAD_CONFIG', /model_type/);
  });
});

describe('parseConfig: DistilBERT', () => {
  it("maps dim, n_layers, n_heads, hidden_dim, activation, dropout, attention_dropout and seq_classif_dropout onto BERT's fields", () => {
    const c = parseConfig(DISTILBERT);
    assert.equal(c.family, 'distilbert');
    assert.equal(c.architecture, 'DistilBertForSequenceClassification');
    assert.equal(c.hiddenSize, 64);
    assert.equal(c.numHiddenLayers, 5);
    assert.equal(c.numAttentionHeads, 8);
    assert.equal(c.intermediateSize, 200);
    assert.equal(c.hiddenAct, 'relu');
    assert.equal(c.hiddenDropoutProb, 0.12);
    assert.equal(c.attentionProbsDropoutProb, 0.11);
    assert.equal(c.classifierDropout, 0.3);
    assert.equal(c.maxPositionEmbeddings, 128);
    assert.equal(c.vocabSize, 300);
  });

  it('has no token-type embeddings and a fixed LayerNorm eps of 1e-12', () => {
    const c = parseConfig(withKeys(DISTILBERT, { type_vocab_size: 2, layer_norm_eps: 1e-5 }));
    assert.equal(c.typeVocabSize, 0);
    assert.equal(c.layerNormEps, 1e-12);
  });

  it('defaults: activation gelu, seq_classif_dropout 0.2 (not the hidden dropout)', () => {
    const c = parseConfig(withKeys(DISTILBERT, { activation: undefined, seq_classif_dropout: undefined, dropout: 0.05 }));
    assert.equal(c.hiddenAct, 'gelu');
    assert.equal(c.classifierDropout, 0.2);
  });

  it('asks for its own key names, not BERT names, when a shape field is missing', () => {
    for (const key of ['dim', 'n_layers', 'n_heads', 'hidden_dim']) {
      // BERT-named fields present must not stand in for the DistilBERT ones.
      const raw = withKeys(DISTILBERT, { [key]: undefined, hidden_size: 64, num_hidden_layers: 5, num_attention_heads: 8, intermediate_size: 200 });
      expectError(() => parseConfig(raw), 'BAD_CONFIG', new RegExp(`"${key}"`));
    }
  });
});

describe('parseConfig: RoBERTa', () => {
  const ROBERTA = withKeys(BERT, { model_type: 'roberta', architectures: ['RobertaForSequenceClassification'], pad_token_id: undefined, max_position_embeddings: 66 });

  it('defaults pad_token_id to 1 (BERT: 0)', () => {
    const c = parseConfig(ROBERTA);
    assert.equal(c.family, 'roberta');
    assert.equal(c.padTokenId, 1);
    assert.equal(parseConfig(withKeys(BERT, { pad_token_id: undefined })).padTokenId, 0);
  });

  it('rejects max_position_embeddings that leaves no room after the padding offset', () => {
    expectError(() => parseConfig(withKeys(ROBERTA, { max_position_embeddings: 2 })), 'BAD_CONFIG', /max_position_embeddings/);
  });
});

describe('parseConfig: errors name the file and the field', () => {
  it('each missing shape field is BAD_CONFIG naming it', () => {
    for (const key of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size']) {
      const e = expectError(() => parseConfig(withKeys(BERT, { [key]: undefined }), '/models/x/config.json'), 'BAD_CONFIG', new RegExp(`missing required field "${key}"`));
      assert.match(e.message, /\/models\/x\/config\.json/);
      assert.equal(e.file, '/models/x/config.json');
    }
  });

  it('null counts as missing for a shape field', () => {
    expectError(() => parseConfig(withKeys(BERT, { hidden_size: null })), 'BAD_CONFIG', /"hidden_size"/);
  });

  it('a non-numeric field is BAD_CONFIG naming the field and the value', () => {
    expectError(() => parseConfig(withKeys(BERT, { hidden_size: '96' })), 'BAD_CONFIG', /"hidden_size"/, /number/, /"96"/);
    expectError(() => parseConfig(withKeys(BERT, { layer_norm_eps: 'tiny' })), 'BAD_CONFIG', /"layer_norm_eps"/);
    expectError(() => parseConfig(withKeys(BERT, { num_hidden_layers: 2.5 })), 'BAD_CONFIG', /"num_hidden_layers"/, /integer/);
    expectError(() => parseConfig(withKeys(BERT, { vocab_size: -3 })), 'BAD_CONFIG', /"vocab_size"/);
  });

  it('zero-sized shapes are rejected', () => {
    expectError(() => parseConfig(withKeys(BERT, { num_hidden_layers: 0 })), 'BAD_CONFIG', /number of layers/);
  });

  it('a hidden size not divisible by the number of heads is BAD_CONFIG with both numbers', () => {
    expectError(() => parseConfig(withKeys(BERT, { hidden_size: 100, num_attention_heads: 6 })), 'BAD_CONFIG', /100/, /6/);
    expectError(() => parseConfig(withKeys(DISTILBERT, { dim: 60, n_heads: 8 })), 'BAD_CONFIG', /60/, /8/);
  });

  it('an unsupported model_type is UNSUPPORTED naming it', () => {
    expectError(() => parseConfig(withKeys(BERT, { model_type: 'gpt2' })), 'UNSUPPORTED', /"gpt2"/, /bert, roberta, distilbert/);
  });

  it('relative position embeddings are UNSUPPORTED', () => {
    for (const pet of ['relative_key', 'relative_key_query']) {
      expectError(() => parseConfig(withKeys(BERT, { position_embedding_type: pet })), 'UNSUPPORTED', new RegExp(pet));
    }
    assert.doesNotThrow(() => parseConfig(withKeys(BERT, { position_embedding_type: undefined })));
  });

  it('decoders and unsupported activations are UNSUPPORTED', () => {
    expectError(() => parseConfig(withKeys(BERT, { is_decoder: true })), 'UNSUPPORTED', /decoder/);
    expectError(() => parseConfig(withKeys(BERT, { hidden_act: 'swish_v9' })), 'UNSUPPORTED', /swish_v9/);
  });

  it('pad_token_id outside the vocabulary is BAD_CONFIG', () => {
    expectError(() => parseConfig(withKeys(BERT, { pad_token_id: 500 })), 'BAD_CONFIG', /pad_token_id/);
  });
});

describe('parseConfig: labels', () => {
  it('id2label sets the number of labels and label2id', () => {
    const c = parseConfig(withKeys(BERT, { id2label: { '0': 'negative', '1': 'neutral', '2': 'positive' } }));
    assert.equal(c.numLabels, 3);
    assert.deepEqual(c.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
    assert.deepEqual(c.label2id, { negative: 0, neutral: 1, positive: 2 });
  });

  it('num_labels alone makes LABEL_i names', () => {
    const c = parseConfig(withKeys(BERT, { num_labels: 4 }));
    assert.equal(c.numLabels, 4);
    assert.deepEqual(Object.values(c.id2label), ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3']);
  });

  it('num_labels agreeing with id2label is fine; disagreeing is BAD_CONFIG with both counts', () => {
    const id2label = { '0': 'a', '1': 'b', '2': 'c' };
    assert.equal(parseConfig(withKeys(BERT, { id2label, num_labels: 3 })).numLabels, 3);
    expectError(() => parseConfig(withKeys(BERT, { id2label, num_labels: 2 })), 'BAD_CONFIG', /num_labels is 2/, /3 entries/);
  });

  it('bad label fields are BAD_CONFIG', () => {
    expectError(() => parseConfig(withKeys(BERT, { id2label: { x: 'a' } })), 'BAD_CONFIG', /id2label key "x"/);
    expectError(() => parseConfig(withKeys(BERT, { num_labels: 0 })), 'BAD_CONFIG', /num_labels/);
    expectError(() => parseConfig(withKeys(BERT, { problem_type: 'ranking' })), 'BAD_CONFIG', /problem_type/, /ranking/);
  });
});

describe('parseConfig: hostile values are refused, naming the field', () => {
  it('size fields above sane bounds (10^12 or 2^31 layers, a vocabulary of billions) are BAD_CONFIG before anything is sized', () => {
    for (const layers of [1e12, 2 ** 31, 1001]) {
      expectError(() => parseConfig(withKeys(BERT, { num_hidden_layers: layers })), 'BAD_CONFIG', /"num_hidden_layers"/, /limit/);
    }
    expectError(() => parseConfig(withKeys(DISTILBERT, { n_layers: 2 ** 31 })), 'BAD_CONFIG', /"n_layers"/, /limit/);
    expectError(() => parseConfig(withKeys(BERT, { vocab_size: 2 ** 40 })), 'BAD_CONFIG', /"vocab_size"/);
    expectError(() => parseConfig(withKeys(BERT, { hidden_size: 2 ** 20, num_attention_heads: 1 })), 'BAD_CONFIG', /"hidden_size"/);
    expectError(() => parseConfig(withKeys(BERT, { intermediate_size: 1e9 })), 'BAD_CONFIG', /"intermediate_size"/);
    expectError(() => parseConfig(withKeys(BERT, { max_position_embeddings: 1e9 })), 'BAD_CONFIG', /"max_position_embeddings"/);
    expectError(() => parseConfig(withKeys(BERT, { type_vocab_size: 1e9 })), 'BAD_CONFIG', /"type_vocab_size"/);
    expectError(() => parseConfig(withKeys(BERT, { num_labels: 1e8 })), 'BAD_CONFIG', /"num_labels"/);
    assert.equal(parseConfig(withKeys(BERT, { num_hidden_layers: 48 })).numHiddenLayers, 48);
  });

  it('layer_norm_eps must be positive and finite', () => {
    for (const eps of [-1, 0, 1, 5]) expectError(() => parseConfig(withKeys(BERT, { layer_norm_eps: eps })), 'BAD_CONFIG', /"layer_norm_eps"/);
    expectError(() => parseConfig(withKeys(BERT, { layer_norm_eps: '1e-12' })), 'BAD_CONFIG', /"layer_norm_eps" must be a number/);
  });

  it('dropout probabilities must lie in [0, 1)', () => {
    for (const p of [2, -0.5, 1]) {
      expectError(() => parseConfig(withKeys(BERT, { hidden_dropout_prob: p })), 'BAD_CONFIG', /"hidden_dropout_prob"/);
      expectError(() => parseConfig(withKeys(BERT, { attention_probs_dropout_prob: p })), 'BAD_CONFIG', /"attention_probs_dropout_prob"/);
      expectError(() => parseConfig(withKeys(BERT, { classifier_dropout: p })), 'BAD_CONFIG', /"classifier_dropout"/);
      expectError(() => parseConfig(withKeys(DISTILBERT, { dropout: p })), 'BAD_CONFIG', /"dropout"/);
      expectError(() => parseConfig(withKeys(DISTILBERT, { seq_classif_dropout: p })), 'BAD_CONFIG', /"seq_classif_dropout"/);
    }
    expectError(() => parseConfig(withKeys(BERT, { initializer_range: -0.02 })), 'BAD_CONFIG', /"initializer_range"/);
    assert.equal(parseConfig(withKeys(BERT, { hidden_dropout_prob: 0 })).hiddenDropoutProb, 0);
  });

  it('model_type must be a string; architectures must name a model class of the family', () => {
    expectError(() => parseConfig(withKeys(BERT, { model_type: 5 })), 'BAD_CONFIG', /"model_type" must be a string/);
    expectError(() => parseConfig(withKeys(BERT, { architectures: ['GPT2LMHeadModel'] })), 'UNSUPPORTED', /"architectures"/, /GPT2LMHeadModel/, /not a bert model class/);
    expectError(() => parseConfig(withKeys(BERT, { architectures: ['RobertaForSequenceClassification'] })), 'UNSUPPORTED', /"architectures"/);
    expectError(() => parseConfig(withKeys(BERT, { architectures: 'BertModel' })), 'BAD_CONFIG', /"architectures" must be a list/);
    expectError(() => parseConfig(withKeys(BERT, { architectures: [5] })), 'BAD_CONFIG', /"architectures" must be a list/);
    assert.equal(parseConfig(withKeys(BERT, { architectures: ['BertForMaskedLM'] })).architecture, 'BertForMaskedLM');
    assert.equal(parseConfig(withKeys(BERT, { architectures: [] })).architecture, 'BertModel');
  });

  it('label maps of the wrong shape are BAD_CONFIG naming the field', () => {
    expectError(() => parseConfig(withKeys(BERT, { label2id: 5 })), 'BAD_CONFIG', /"label2id" must be an object/);
    expectError(() => parseConfig(withKeys(BERT, { label2id: { a: 'x' } })), 'BAD_CONFIG', /label2id "a" must be a label id/);
    expectError(() => parseConfig(withKeys(BERT, { id2label: [1, 2] })), 'BAD_CONFIG', /"id2label" must be an object/);
    expectError(() => parseConfig(withKeys(BERT, { id2label: { 0: 1, 1: 2 } })), 'BAD_CONFIG', /id2label "0" must be a non-empty label name/);
    expectError(() => parseConfig(withKeys(BERT, { id2label: { 0: 'a', 5: 'b' } })), 'BAD_CONFIG', /"id2label" must number its 2 labels 0…1; id 1 is missing/);
    expectError(() => parseConfig(withKeys(BERT, { id2label: { 0: 'a', 1: 'a' } })), 'BAD_CONFIG', /names two labels "a"/);
    expectError(
      () => parseConfig(withKeys(BERT, { id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 1, pos: 0 } })),
      'BAD_CONFIG',
      /label2id maps "neg" to 1 but id2label names 1 "pos"/,
    );
    const ok = parseConfig(withKeys(BERT, { id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 0, pos: 1 } }));
    assert.deepEqual(ok.label2id, { neg: 0, pos: 1 });
  });
});

describe('resolveProblemType (HF rule when problem_type is unset)', () => {
  it('one label → regression; more labels → single-label for integer labels, multi-label otherwise', () => {
    const one = parseConfig(withKeys(BERT, { num_labels: 1 }));
    assert.equal(one.problemType, null);
    assert.equal(resolveProblemType(one), 'regression');
    assert.equal(resolveProblemType(one, false), 'regression');
    const three = parseConfig(withKeys(BERT, { num_labels: 3 }));
    assert.equal(resolveProblemType(three), 'single_label_classification');
    assert.equal(resolveProblemType(three, true), 'single_label_classification');
    assert.equal(resolveProblemType(three, false), 'multi_label_classification');
  });

  it('an explicit problem_type always wins', () => {
    const multi = parseConfig(withKeys(BERT, { num_labels: 3, problem_type: 'multi_label_classification' }));
    assert.equal(resolveProblemType(multi, true), 'multi_label_classification');
    const reg = parseConfig(withKeys(BERT, { num_labels: 3, problem_type: 'regression' }));
    assert.equal(resolveProblemType(reg), 'regression');
    const single = parseConfig(withKeys(BERT, { num_labels: 1, problem_type: 'single_label_classification' }));
    assert.equal(resolveProblemType(single), 'single_label_classification');
  });
});

describe('readConfig', () => {
  const dirs: string[] = [];
  const folder = (files: Record<string, string>): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-config-'));
    dirs.push(d);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
    return d;
  };
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('reads and parses config.json, keeping the path in later errors', () => {
    const d = folder({ 'config.json': JSON.stringify(BERT) });
    const c = readConfig(d);
    assert.equal(c.hiddenSize, 96);
    assert.deepEqual(c.raw, BERT);
    const bad = folder({ 'config.json': JSON.stringify(withKeys(BERT, { intermediate_size: undefined })) });
    const e = expectError(() => readConfig(bad), 'BAD_CONFIG', /"intermediate_size"/);
    assert.ok(e.message.includes(path.join(bad, 'config.json')), e.message);
  });

  it('a folder without config.json is MISSING_FILE naming the path', () => {
    const d = folder({});
    const file = path.join(d, 'config.json');
    const e = expectError(() => readConfig(d), 'MISSING_FILE');
    assert.ok(e.message.includes(file), e.message);
    assert.equal(e.file, file);
  });

  it('invalid JSON is BAD_CONFIG naming the path', () => {
    const d = folder({ 'config.json': '{"model_type": "bert",' });
    const file = path.join(d, 'config.json');
    const e = expectError(() => readConfig(d), 'BAD_CONFIG', /not valid JSON/);
    assert.ok(e.message.includes(file), e.message);
    assert.equal(e.file, file);
  });

  it('JSON that is not an object is BAD_CONFIG', () => {
    for (const text of ['[1, 2]', 'null', '"bert"']) {
      const d = folder({ 'config.json': text });
      expectError(() => readConfig(d), 'BAD_CONFIG', /expected a JSON object/);
    }
  });
});
