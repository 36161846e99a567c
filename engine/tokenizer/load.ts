/**
 * `loadTokenizer(dir)`: an HF model folder → Tokenizer. Sources, in HF's order of preference:
 *   tokenizer.json                 → tokenizers.js directly (WordPiece BERT, byte-level BPE RoBERTa, …)
 *   vocab.txt                      → the BertConverter tokenizer.json, built in memory
 *   vocab.json + merges.txt        → the RobertaConverter tokenizer.json, built in memory
 * tokenizer_config.json / special_tokens_map.json supply model_max_length and the special tokens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { bertNormalizeOptions, installBertNormalizer } from './bert-normalizer';
import { buildRobertaTokenizerJson, parseMerges } from './bpe-json';
import { readJsonObject, readTokenizerConfig, resolveModelMaxLength, specialTokens, type JsonObject } from './config';
import { LoadedTokenizer } from './encode';
import { hf, type HfTokenizer, type TokenizerJson } from './hf-lib';
import { templateFromJson } from './template';
import { validateTemplate, validateTokenizerJson } from './validate';
import type { LoadTokenizerOptions, Tokenizer, TokenizerKind } from './types';
import { buildBertTokenizerJson, isBertLikeClass, parseVocabTxt } from './wordpiece-json';

/** The tokenizer.json a folder describes (read, or built from the slow tokenizer's files), before loading. */
export function tokenizerJsonForDir(dir: string, cfg: JsonObject = readTokenizerConfig(dir)): TokenizerJson {
  const file = (name: string): string => path.join(dir, name);
  if (fs.existsSync(file('tokenizer.json'))) {
    const json = readJsonObject(file('tokenizer.json'));
    if (!json.model || typeof json.model !== 'object') {
      throw new PeftStudioError('BAD_CONFIG', `${file('tokenizer.json')} has no "model" section`, file('tokenizer.json'));
    }
    return applyFastInitOverrides(json as TokenizerJson, cfg);
  }
  if (fs.existsSync(file('vocab.txt'))) {
    const vocab = parseVocabTxt(readText(file('vocab.txt')));
    const extra = fs.existsSync(file('added_tokens.json')) ? readJsonObject(file('added_tokens.json')) : {};
    return buildBertTokenizerJson(vocab, cfg, dir, extra as Record<string, number>);
  }
  if (fs.existsSync(file('vocab.json')) && fs.existsSync(file('merges.txt'))) {
    const vocab = readJsonObject(file('vocab.json')) as Record<string, number>;
    return buildRobertaTokenizerJson(vocab, parseMerges(readText(file('merges.txt'))), cfg, dir);
  }
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new PeftStudioError('MISSING_FILE', `tokenizer folder ${dir} does not exist`, dir);
  }
  throw new PeftStudioError(
    'MISSING_FILE',
    `${dir} has no tokenizer: need tokenizer.json, or vocab.txt (BERT WordPiece), or vocab.json + merges.txt (RoBERTa BPE)`,
    dir,
  );
}

/** Like `loadTokenizer`, synchronously (everything it does is synchronous file reading). */
export function loadTokenizerSync(dir: string, opts: LoadTokenizerOptions = {}): Tokenizer {
  const cfg = readTokenizerConfig(dir);
  const json = tokenizerJsonForDir(dir, cfg);
  // Errors name the file the tokenizer came from (merges.txt holds what a built BPE tokenizer can get wrong).
  const source = ['tokenizer.json', 'vocab.txt', 'merges.txt'].find((f) => fs.existsSync(path.join(dir, f))) ?? 'tokenizer.json';
  return tokenizerFromJson(json, cfg, opts, path.join(dir, source));
}

export async function loadTokenizer(dir: string, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  return loadTokenizerSync(dir, opts);
}

/**
 * A Tokenizer from a tokenizer.json object and its tokenizer_config. `file` names the source in errors.
 * Exported so a caller (or a test) can load a tokenizer.json built in memory.
 */
export function tokenizerFromJson(
  json: TokenizerJson,
  cfg: JsonObject,
  opts: LoadTokenizerOptions = {},
  file = 'tokenizer.json',
): Tokenizer {
  const full = { added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...json };
  validateTokenizerJson(full, file);
  let hfTok: HfTokenizer;
  try {
    hfTok = new hf.Tokenizer(full, cfg);
  } catch (e) {
    throw new PeftStudioError('UNSUPPORTED', `${file}: tokenizers.js cannot load it: ${(e as Error).message}`, file);
  }
  if (full.normalizer && full.normalizer.type === 'BertNormalizer') {
    installBertNormalizer(hfTok, bertNormalizeOptions(full.normalizer));
  }
  const template = templateFromJson(full.post_processor, file);
  const specials = specialTokens(cfg);
  const idOf = (token: string | undefined): number | undefined => (token === undefined ? undefined : hfTok.token_to_id(token));
  const model = full.model as JsonObject;
  const padding = (full.padding ?? null) as JsonObject | null;
  const modelUnk = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const kind: TokenizerKind = model.type === 'WordPiece' ? 'wordpiece' : model.type === 'BPE' ? 'bpe' : 'other';
  let maxId = -1;
  for (const id of hfTok.get_vocab(true).values()) if (id > maxId) maxId = id;
  validateTemplate(template, maxId, file);
  return new LoadedTokenizer(hfTok, template, {
    vocabSize: maxId + 1,
    // No pad token at all (GPT-2 style): pad with id 0; the attention mask hides padding anyway.
    padTokenId: idOf(specials.pad_token) ?? (typeof padding?.pad_id === 'number' ? padding.pad_id : 0),
    clsTokenId: idOf(specials.cls_token) ?? idOf(specials.bos_token),
    sepTokenId: idOf(specials.sep_token) ?? idOf(specials.eos_token),
    unkTokenId: idOf(specials.unk_token) ?? idOf(modelUnk) ?? -1,
    modelMaxLength: resolveModelMaxLength(cfg, opts.modelMaxLength),
    kind,
  });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PeftStudioError('MISSING_FILE', `cannot read ${file}: ${(e as Error).message}`, file);
  }
}

/**
 * The fast tokenizer classes re-apply some tokenizer_config.json settings on top of tokenizer.json when they
 * disagree (BertTokenizerFast: do_lower_case, strip_accents, tokenize_chinese_chars; RobertaTokenizerFast:
 * add_prefix_space, trim_offsets). We apply the ones the config states explicitly.
 */
function applyFastInitOverrides(json: TokenizerJson, cfg: JsonObject): TokenizerJson {
  const out: TokenizerJson = { ...json };
  const norm = json.normalizer;
  if (norm && norm.type === 'BertNormalizer' && isBertLikeClass(cfg)) {
    const n = { ...norm };
    if (typeof cfg.do_lower_case === 'boolean') n.lowercase = cfg.do_lower_case;
    if (typeof cfg.strip_accents === 'boolean' || cfg.strip_accents === null) n.strip_accents = cfg.strip_accents;
    if (typeof cfg.tokenize_chinese_chars === 'boolean') n.handle_chinese_chars = cfg.tokenize_chinese_chars;
    out.normalizer = n;
  }
  const pre = json.pre_tokenizer;
  if (pre && pre.type === 'ByteLevel' && typeof cfg.add_prefix_space === 'boolean') {
    out.pre_tokenizer = { ...pre, add_prefix_space: cfg.add_prefix_space };
  }
  return out;
}
