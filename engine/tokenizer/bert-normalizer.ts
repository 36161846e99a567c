/**
 * BERT's text normalization, exactly as the slow `BasicTokenizer` (and the Rust `BertNormalizer`) does it.
 *
 * tokenizers.js 0.2.0 ships a BertNormalizer that differs in two corner cases: it tests CJK per UTF-16 unit,
 * so ideographs outside the BMP (CJK Extension B+, U+20000…) are not spaced out, and its control test misses
 * unassigned code points (category Cn), which HF drops. This one works per code point, covers all of category
 * C, and is faster (ASCII fast path, no per-character regex for ASCII).
 */
import { hf, type HfTokenizer } from './hf-lib';

export interface BertNormalizeOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** null: strip accents exactly when lower-casing (HF's default). */
  stripAccents: boolean | null;
  lowercase: boolean;
}

const OTHER = /\p{C}/u; // Cc Cf Cn Co Cs: what HF's `_is_control` calls control (after \t \n \r are excluded)
const SPACE_SEPARATOR = /\p{Zs}/u;
const NON_ASCII = /[^\x00-\x7f]/;
const NONSPACING_MARKS = /\p{Mn}/gu;

/** HF `_is_chinese_char`: the CJK Unified Ideographs blocks (not all of CJK: kana and hangul are words). */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** `_clean_text` + `_tokenize_chinese_chars` in one pass over code points. */
function cleanAndSpace(text: string, clean: boolean, chinese: boolean): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (clean) {
      if (cp < 0x80) {
        if (cp === 0x09 || cp === 0x0a || cp === 0x0d) {
          out += ' '; // whitespace, not control
          continue;
        }
        if (cp < 0x20 || cp === 0x7f) continue; // cp 0 and other Cc
        out += ch;
        continue;
      }
      if (cp === 0xfffd || OTHER.test(ch)) continue;
      if (SPACE_SEPARATOR.test(ch)) {
        out += ' ';
        continue;
      }
    }
    out += chinese && isChineseChar(cp) ? ` ${ch} ` : ch;
  }
  return out;
}

export function bertNormalize(text: string, o: BertNormalizeOptions): string {
  let s = o.cleanText || o.handleChineseChars ? cleanAndSpace(text, o.cleanText, o.handleChineseChars) : text;
  // Slow order: lower-case, then strip accents (NFD, drop nonspacing marks). Pure ASCII has no accents.
  if (o.lowercase) s = s.toLowerCase();
  const strip = o.stripAccents ?? o.lowercase;
  if (strip && NON_ASCII.test(s)) s = s.normalize('NFD').replace(NONSPACING_MARKS, '');
  return s;
}

/** Reads a tokenizer.json `BertNormalizer` block (absent fields take HF's defaults). */
export function bertNormalizeOptions(json: Record<string, unknown>): BertNormalizeOptions {
  const b = (k: string, d: boolean): boolean => (typeof json[k] === 'boolean' ? (json[k] as boolean) : d);
  return {
    cleanText: b('clean_text', true),
    handleChineseChars: b('handle_chinese_chars', true),
    stripAccents: typeof json.strip_accents === 'boolean' ? json.strip_accents : null,
    lowercase: b('lowercase', true),
  };
}

/** Swaps a loaded tokenizer's normalizer for the exact one (tokenizers.js calls `tokenizer.normalizer(text)`). */
export function installBertNormalizer(tok: HfTokenizer, o: BertNormalizeOptions): void {
  class ExactBertNormalizer extends hf.Normalizer {
    override normalize(text: string): string {
      return bertNormalize(text, o);
    }
  }
  tok.normalizer = new ExactBertNormalizer({ type: 'BertNormalizer' });
}
