/**
 * Structural checks of a tokenizer.json model section (read from disk, or built in memory from vocab.txt or
 * vocab.json + merges.txt) before tokenizers.js sees it. tokenizers.js trusts its input: an empty vocabulary
 * or a merge line that is not two known tokens loads fine and fails later, deep inside encoding, with an
 * error that names neither the file nor the field. The rules are those HF tokenizers' Rust builders enforce.
 */
import { PeftStudioError } from '../errors';
import type { TokenizerJson } from './hf-lib';
import type { Template } from './template';

/** Ids index the embedding matrix; a vocabulary past config.json's own size limit is corrupt. */
export const MAX_TOKEN_ID = 10_000_000;

export function validateTokenizerJson(json: TokenizerJson, file: string): void {
  const bad = (msg: string) => new PeftStudioError('BAD_CONFIG', `${file}: ${msg}`, file);
  const model = json.model;
  if (model.type !== 'WordPiece' && model.type !== 'BPE') {
    throw new PeftStudioError('UNSUPPORTED', `${file}: field "model.type" is ${JSON.stringify(model.type)}; PEFT Studio reads WordPiece and BPE tokenizers`, file);
  }
  {
    const vocab = model.vocab;
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) {
      throw bad(`field "model.vocab" must be an object of token → id, got ${JSON.stringify(vocab)?.slice(0, 80)}`);
    }
    const entries = Object.entries(vocab as Record<string, unknown>);
    if (entries.length === 0) throw bad(`field "model.vocab" of the ${model.type} tokenizer is empty`);
    for (const [token, id] of entries) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_TOKEN_ID) {
        throw bad(`field "model.vocab": token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not an integer from 0 to ${MAX_TOKEN_ID - 1}`);
      }
    }
    const has = (t: string) => Object.prototype.hasOwnProperty.call(vocab, t);
    if (model.type === 'WordPiece') {
      if (typeof model.unk_token !== 'string' || !has(model.unk_token)) {
        throw bad(`field "model.unk_token" ${JSON.stringify(model.unk_token)} must be a token of "model.vocab" (WordPiece needs it for unknown words)`);
      }
      if (model.continuing_subword_prefix !== undefined && typeof model.continuing_subword_prefix !== 'string') {
        throw bad(`field "model.continuing_subword_prefix" must be a string, got ${JSON.stringify(model.continuing_subword_prefix)}`);
      }
    } else {
      checkMerges(model, has, bad);
    }
  }
  const added = json.added_tokens;
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) throw bad(`field "added_tokens" must be a list, got ${JSON.stringify(added)?.slice(0, 80)}`);
    added.forEach((t, i) => {
      const ok = typeof t === 'object' && t !== null && typeof t.content === 'string' && Number.isInteger(t.id) && t.id >= 0 && t.id < MAX_TOKEN_ID;
      if (!ok) throw bad(`added_tokens[${i}] must have a string "content" and an integer "id" from 0 to ${MAX_TOKEN_ID - 1}, got ${JSON.stringify(t)?.slice(0, 120)}`);
    });
  }
}

/**
 * The post-processor's special tokens and type ids, as the template carries them: ids the vocabulary has,
 * type ids that index a token-type table (a handful at most).
 */
export function validateTemplate(template: Template, maxId: number, file: string): void {
  for (const piece of [...template.single, ...template.pair]) {
    if (!(Number.isInteger(piece.typeId) && piece.typeId >= 0 && piece.typeId < 16)) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: post_processor gives type_id ${JSON.stringify(piece.typeId)}; type ids are small non-negative integers`, file);
    }
    if (piece.kind !== 'special') continue;
    for (const id of piece.ids) {
      if (!(Number.isInteger(id) && id >= 0 && id <= maxId)) {
        throw new PeftStudioError('BAD_CONFIG', `${file}: post_processor special token ${JSON.stringify(piece.tokens.join(' '))} has id ${JSON.stringify(id)}, which is not in the vocabulary (0…${maxId})`, file);
      }
    }
  }
}

/** BPE merges: "left right" strings (or [left, right] pairs), both parts and their merge in the vocabulary. */
function checkMerges(model: Record<string, unknown>, has: (t: string) => boolean, bad: (msg: string) => PeftStudioError): void {
  const merges = model.merges;
  if (merges === undefined || merges === null) return;
  if (!Array.isArray(merges)) throw bad(`field "model.merges" must be a list, got ${JSON.stringify(merges)?.slice(0, 80)}`);
  const prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
  merges.forEach((m, i) => {
    let parts: unknown[] | undefined;
    if (typeof m === 'string') parts = m.split(' ');
    else if (Array.isArray(m)) parts = m;
    const where = `merge ${i + 1} of "model.merges" (${JSON.stringify(m)?.slice(0, 80)})`;
    if (!parts || parts.length !== 2 || !parts.every((p) => typeof p === 'string' && p !== '')) {
      throw bad(`${where} is not two tokens separated by one space`);
    }
    const [a, b] = parts as [string, string];
    for (const t of [a, b]) if (!has(t)) throw bad(`${where}: token ${JSON.stringify(t)} is not in "model.vocab"`);
    const merged = a + b.slice(prefix.length);
    if (!has(merged)) throw bad(`${where}: the merged token ${JSON.stringify(merged)} is not in "model.vocab"`);
  });
}
