/**
 * Reading the small JSON side files of an HF model folder (tokenizer_config.json, special_tokens_map.json)
 * and the rules HF applies to them: special-token values may be strings or AddedToken objects, and
 * special_tokens_map.json wins over tokenizer_config.json (as in `from_pretrained`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';

export type JsonObject = Record<string, unknown>;

export const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;
export type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];
export type SpecialTokens = Partial<Record<SpecialTokenKey, string>>;

/** HF writes `model_max_length = int(1e30)` when it does not know the limit. */
const HF_UNSET_MAX_LENGTH = 1e29;
/** When neither the tokenizer nor the caller knows a limit: every BERT-family position table we load has 512. */
const FALLBACK_MAX_LENGTH = 512;

export function readJsonObject(file: string): JsonObject {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PeftStudioError('MISSING_FILE', `cannot read ${file}: ${(e as Error).message}`, file);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new PeftStudioError('BAD_CONFIG', `${file} is not valid JSON: ${(e as Error).message}`, file);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PeftStudioError('BAD_CONFIG', `${file} must hold a JSON object`, file);
  }
  checkModelMaxLength(value as JsonObject, file);
  return value as JsonObject;
}

/** model_max_length, where a file states it: a positive integer, or HF's "unset" sentinel (int(1e30)). */
function checkModelMaxLength(obj: JsonObject, file: string): void {
  const v = obj.model_max_length;
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || (!Number.isInteger(v) && v < HF_UNSET_MAX_LENGTH)) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: field "model_max_length" must be a positive integer, got ${JSON.stringify(v)}`, file);
  }
}

/** tokenizer_config.json overlaid with special_tokens_map.json; both optional ({} when absent). */
export function readTokenizerConfig(dir: string): JsonObject {
  const read = (name: string): JsonObject => {
    const file = path.join(dir, name);
    return fs.existsSync(file) ? readJsonObject(file) : {};
  };
  return { ...read('tokenizer_config.json'), ...read('special_tokens_map.json') };
}

/** A special-token value as HF saves it: "[CLS]" or {"content": "[CLS]", "__type": "AddedToken", ...}. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as JsonObject).content === 'string') {
    return (value as JsonObject).content as string;
  }
  return undefined;
}

/** The special tokens the config names, with `defaults` for the ones it does not (the slow class's defaults). */
export function specialTokens(cfg: JsonObject, defaults: SpecialTokens = {}): SpecialTokens {
  const out: SpecialTokens = { ...defaults };
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = tokenContent(cfg[key]);
    if (v !== undefined) out[key] = v;
    else if (cfg[key] === null) delete out[key]; // an explicit null removes the default (e.g. no mask token)
  }
  return out;
}

/** An AddedToken-like object from the config (added_tokens_decoder entries, special-token objects). */
export function boolField(obj: unknown, key: string): boolean | undefined {
  if (!obj || typeof obj !== 'object') return undefined;
  const v = (obj as JsonObject)[key];
  return typeof v === 'boolean' ? v : undefined;
}

/**
 * HF's `model_max_length` (sentinel 1e30 = unset), capped by the caller's `cap` (the model's
 * `max_position_embeddings`): a tokenizer may claim more positions than the model has.
 */
export function resolveModelMaxLength(cfg: JsonObject, cap?: number): number {
  if (cap !== undefined && !(Number.isInteger(cap) && cap > 0)) {
    throw new PeftStudioError('BAD_INPUT', `modelMaxLength must be a positive integer, got ${cap}`);
  }
  const raw = cfg.model_max_length;
  const fromConfig =
    typeof raw === 'number' && Number.isFinite(raw) && raw > 0 && raw < HF_UNSET_MAX_LENGTH ? Math.floor(raw) : undefined;
  if (fromConfig !== undefined && cap !== undefined) return Math.min(fromConfig, cap);
  return fromConfig ?? cap ?? FALLBACK_MAX_LENGTH;
}

/** The id of a special token in a vocab, or BAD_CONFIG naming the vocab file and the missing token. */
export function specialTokenIdIn(vocab: Record<string, number>, specials: SpecialTokens, key: keyof SpecialTokens, vocabFile: string): number {
  const token = specials[key];
  const id = token === undefined ? undefined : vocab[token];
  if (id === undefined) {
    throw new PeftStudioError('BAD_CONFIG', `${vocabFile} has no ${key} ${JSON.stringify(token)}`, vocabFile);
  }
  return id;
}
