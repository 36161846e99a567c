/**
 * The post-processor of a tokenizer.json (where special tokens go, which type id each part gets), turned into
 * a plain template we apply ourselves. We do this instead of letting tokenizers.js post-process because
 * truncation must happen *before* special tokens are added (slow HF `truncate_sequences` on the bare ids), and
 * because tokenizers.js gives RoBERTa's second sequence type id 1 where HF gives 0.
 */
import { PeftStudioError } from '../errors';

export type Piece =
  | { kind: 'seq'; seq: 'A' | 'B'; typeId: number }
  | { kind: 'special'; ids: number[]; tokens: string[]; typeId: number };

export interface Template {
  single: Piece[];
  pair: Piece[];
}

type Obj = Record<string, unknown>;

const seq = (s: 'A' | 'B', typeId: number): Piece => ({ kind: 'seq', seq: s, typeId });
const special = (token: [string, number], typeId: number): Piece => ({
  kind: 'special',
  ids: [token[1]],
  tokens: [token[0]],
  typeId,
});

/** No post-processor: the bare sequences, the pair's with type id 1 (as the Rust default). */
const BARE: Template = { single: [seq('A', 0)], pair: [seq('A', 0), seq('B', 1)] };

function fail(file: string, why: string): never {
  throw new PeftStudioError('UNSUPPORTED', `${file}: post_processor ${why}`, file);
}

function idToken(v: unknown, file: string, what: string): [string, number] {
  if (!Array.isArray(v) || typeof v[0] !== 'string' || !Number.isInteger(v[1])) fail(file, `has a malformed ${what}`);
  return [v[0], v[1]];
}

function fromTemplateProcessing(pp: Obj, file: string): Template {
  const specials = (pp.special_tokens ?? {}) as Record<string, { ids?: number[]; tokens?: string[] }>;
  const convert = (items: unknown): Piece[] => {
    if (!Array.isArray(items)) fail(file, 'TemplateProcessing lacks single/pair');
    return items.map((item: Obj): Piece => {
      if (item.Sequence) {
        const s = item.Sequence as Obj;
        if (s.id !== 'A' && s.id !== 'B') fail(file, `names sequence ${String(s.id)}`);
        return seq(s.id, Number(s.type_id ?? 0));
      }
      if (item.SpecialToken) {
        const s = item.SpecialToken as Obj;
        const def = specials[String(s.id)];
        if (!def || !Array.isArray(def.ids)) fail(file, `uses special token ${String(s.id)} without ids`);
        return { kind: 'special', ids: def.ids, tokens: def.tokens ?? def.ids.map(String), typeId: Number(s.type_id ?? 0) };
      }
      fail(file, `has an unknown template item ${JSON.stringify(item)}`);
    });
  };
  return { single: convert(pp.single), pair: convert(pp.pair) };
}

export function templateFromJson(pp: unknown, file: string): Template {
  if (pp === null || pp === undefined) return BARE;
  const p = pp as Obj;
  switch (p.type) {
    case 'TemplateProcessing':
      return fromTemplateProcessing(p, file);
    case 'BertProcessing': {
      const cls = idToken(p.cls, file, 'cls');
      const sep = idToken(p.sep, file, 'sep');
      return {
        single: [special(cls, 0), seq('A', 0), special(sep, 0)],
        pair: [special(cls, 0), seq('A', 0), special(sep, 0), seq('B', 1), special(sep, 1)],
      };
    }
    case 'RobertaProcessing': {
      // RoBERTa has one token type (type_vocab_size 1): every type id is 0, as in slow RobertaTokenizer.
      const cls = idToken(p.cls, file, 'cls');
      const sep = idToken(p.sep, file, 'sep');
      return {
        single: [special(cls, 0), seq('A', 0), special(sep, 0)],
        pair: [special(cls, 0), seq('A', 0), special(sep, 0), special(sep, 0), seq('B', 0), special(sep, 0)],
      };
    }
    case 'ByteLevel':
      return BARE; // only trims offsets, which we do not return
    case 'Sequence': {
      // Typically [ByteLevel, TemplateProcessing] (Llama-3 style): only the non-ByteLevel step adds tokens.
      const steps = ((p.processors as Obj[] | undefined) ?? []).filter((s) => s && s.type !== 'ByteLevel');
      if (steps.length > 1) fail(file, 'Sequence with more than one token-adding step is not supported');
      return steps.length === 1 ? templateFromJson(steps[0], file) : BARE;
    }
    default:
      fail(file, `type ${String(p.type)} is not supported`);
  }
}

export function specialCount(t: Template, isPair: boolean): number {
  let n = 0;
  for (const p of isPair ? t.pair : t.single) if (p.kind === 'special') n += p.ids.length;
  return n;
}

export interface Assembled {
  ids: number[];
  typeIds: number[];
  tokens: string[];
}

/** Lays out the template around already-truncated sequences. */
export function assemble(
  t: Template,
  a: { ids: number[]; tokens: string[] },
  b: { ids: number[]; tokens: string[] } | null,
  withTokens: boolean,
): Assembled {
  const out: Assembled = { ids: [], typeIds: [], tokens: [] };
  for (const p of b ? t.pair : t.single) {
    const src = p.kind === 'special' ? p : p.seq === 'A' ? a : b!;
    for (let i = 0; i < src.ids.length; i++) {
      out.ids.push(src.ids[i]);
      out.typeIds.push(p.typeId);
    }
    if (withTokens) out.tokens.push(...src.tokens);
  }
  return out;
}
