/**
 * The engine's Tokenizer: tokenizers.js does normalization, pre-tokenization and the model (WordPiece/BPE)
 * on each text without special tokens; truncation, special tokens, type ids and padding are ours, following
 * the slow HF tokenizer (`prepare_for_model` → `truncate_sequences` → `build_inputs_with_special_tokens` → `pad`).
 */
import { PeftStudioError } from '../errors';
import type { HfTokenizer } from './hf-lib';
import { assemble, specialCount, type Template } from './template';
import { longestFirstLengths } from './truncate';
import type { BatchEncoding, EncodeOptions, Encoding, Tokenizer, TokenizerKind } from './types';

export interface TokenizerMeta {
  vocabSize: number;
  padTokenId: number;
  clsTokenId?: number;
  sepTokenId?: number;
  unkTokenId: number;
  modelMaxLength: number;
  kind: TokenizerKind;
}

interface Piece {
  ids: number[];
  tokens: string[];
}

interface Resolved {
  maxLength: number;
  padding: 'longest' | 'max_length' | false;
  multiple: number | undefined;
}

function positiveInt(v: unknown, name: string): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) {
    throw new PeftStudioError('BAD_INPUT', `${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function checkText(text: unknown, what: string): asserts text is string {
  if (typeof text !== 'string') throw new PeftStudioError('BAD_INPUT', `${what} is not a string (got ${typeof text})`);
  if (text.trim() === '') throw new PeftStudioError('BAD_INPUT', `empty text: ${what} is empty or only whitespace`);
}

/** HF `pad_to_multiple_of`: round up. */
function roundUp(n: number, multiple: number | undefined): number {
  return multiple && n % multiple !== 0 ? (Math.floor(n / multiple) + 1) * multiple : n;
}

export class LoadedTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padTokenId: number;
  readonly clsTokenId?: number;
  readonly sepTokenId?: number;
  readonly unkTokenId: number;
  readonly modelMaxLength: number;
  readonly kind: TokenizerKind;
  private readonly padToken: string;

  constructor(
    private readonly hfTok: HfTokenizer,
    private readonly template: Template,
    meta: TokenizerMeta,
  ) {
    this.vocabSize = meta.vocabSize;
    this.padTokenId = meta.padTokenId;
    this.clsTokenId = meta.clsTokenId;
    this.sepTokenId = meta.sepTokenId;
    this.unkTokenId = meta.unkTokenId;
    this.modelMaxLength = meta.modelMaxLength;
    this.kind = meta.kind;
    this.padToken = hfTok.id_to_token(meta.padTokenId) ?? String(meta.padTokenId);
  }

  tokenize(text: string): string[] {
    checkText(text, 'text');
    return this.bare(text).tokens;
  }

  encode(text: string, pair?: string, opts: EncodeOptions = {}): Encoding & { truncated: boolean } {
    checkText(text, 'text');
    if (pair !== undefined) checkText(pair, 'pair text');
    const r = this.resolve(opts);
    const one = this.encodeOne(text, pair, r.maxLength, true);
    const target =
      r.padding === 'max_length' ? roundUp(r.maxLength, r.multiple) : r.padding === 'longest' ? roundUp(one.ids.length, r.multiple) : 0;
    const attentionMask = new Array<number>(one.ids.length).fill(1);
    for (let i = one.ids.length; i < target; i++) {
      one.ids.push(this.padTokenId);
      one.typeIds.push(0);
      one.tokens.push(this.padToken);
      attentionMask.push(0);
    }
    return { inputIds: one.ids, attentionMask, tokenTypeIds: one.typeIds, tokens: one.tokens, truncated: one.truncated };
  }

  encodeBatch(texts: string[], pairs?: string[], opts: EncodeOptions = {}): BatchEncoding {
    if (!Array.isArray(texts)) throw new PeftStudioError('BAD_INPUT', 'encodeBatch needs an array of texts');
    if (pairs !== undefined && (!Array.isArray(pairs) || pairs.length !== texts.length)) {
      throw new PeftStudioError('BAD_INPUT', `encodeBatch: ${texts.length} texts but ${pairs?.length} pair texts`);
    }
    const r = this.resolve(opts);
    const rows = texts.map((text, i) => {
      checkText(text, `text ${i}`);
      if (pairs) checkText(pairs[i], `pair text ${i}`);
      return this.encodeOne(text, pairs?.[i], r.maxLength, false);
    });
    let target = 0;
    if (r.padding === 'max_length') target = roundUp(r.maxLength, r.multiple);
    else if (r.padding === 'longest') target = roundUp(rows.reduce((m, x) => Math.max(m, x.ids.length), 0), r.multiple);
    const out: BatchEncoding = { inputIds: [], attentionMask: [], tokenTypeIds: [], truncated: [] };
    for (const row of rows) {
      const n = row.ids.length;
      const mask = new Array<number>(Math.max(n, target)).fill(0, n).fill(1, 0, n);
      for (let i = n; i < target; i++) {
        row.ids.push(this.padTokenId);
        row.typeIds.push(0);
      }
      out.inputIds.push(row.ids);
      out.attentionMask.push(mask);
      out.tokenTypeIds.push(row.typeIds);
      out.truncated.push(row.truncated);
    }
    return out;
  }

  idToToken(id: number): string | undefined {
    return this.hfTok.id_to_token(id);
  }

  tokenToId(t: string): number | undefined {
    return this.hfTok.token_to_id(t);
  }

  private resolve(opts: EncodeOptions): Resolved {
    const maxLength = opts.maxLength === undefined ? this.modelMaxLength : positiveInt(opts.maxLength, 'maxLength');
    const padding = opts.padding ?? false;
    if (padding !== false && padding !== 'longest' && padding !== 'max_length') {
      throw new PeftStudioError('BAD_INPUT', `padding must be 'longest', 'max_length' or false, got ${String(padding)}`);
    }
    const multiple = opts.padToMultipleOf === undefined ? undefined : positiveInt(opts.padToMultipleOf, 'padToMultipleOf');
    return { maxLength, padding, multiple };
  }

  /** Tokens and ids of one text, no special tokens (tokenizers.js with add_special_tokens off). */
  private bare(text: string): Piece {
    const e = this.hfTok.encode(text, { add_special_tokens: false });
    return { ids: e.ids, tokens: e.tokens };
  }

  private encodeOne(text: string, pair: string | undefined, maxLength: number, withTokens: boolean) {
    const a = this.bare(text);
    const b = pair === undefined ? null : this.bare(pair);
    const specials = specialCount(this.template, b !== null);
    if (maxLength <= specials) {
      throw new PeftStudioError('BAD_INPUT', `maxLength ${maxLength} leaves no room for text next to ${specials} special tokens`);
    }
    const toRemove = a.ids.length + (b?.ids.length ?? 0) + specials - maxLength;
    const [lenA, lenB] = longestFirstLengths(a.ids.length, b ? b.ids.length : null, toRemove);
    const cut = (p: Piece, n: number): Piece =>
      n === p.ids.length ? p : { ids: p.ids.slice(0, n), tokens: p.tokens.slice(0, n) };
    const out = assemble(this.template, cut(a, lenA), b && cut(b, lenB!), withTokens);
    return { ...out, truncated: toRemove > 0 };
  }
}
