/**
 * Bytes from disk to text, with the two things every text format needs done the same way: file-system
 * errors become PeftStudioErrors a user can act on, and invalid UTF-8 is pinned to its line instead of
 * turning silently into U+FFFD characters that the tokenizer would then learn from.
 */
import { readFile } from 'node:fs/promises';
import { PeftStudioError } from '../errors';

export async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PeftStudioError('MISSING_FILE', `dataset file not found: ${file}`, file);
    if (code === 'EISDIR') throw new PeftStudioError('BAD_INPUT', `${file} is a folder, not a dataset file`, file);
    throw new PeftStudioError('IO', `cannot read ${file}: ${(err as Error).message}`, file);
  }
}

export interface DecodedText {
  /** The file's text without a leading BOM. Invalid bytes on bad lines appear as U+FFFD. */
  text: string;
  /** 1-based numbers of the lines holding invalid UTF-8. */
  badLines: Set<number>;
}

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array): DecodedText {
  // The BOM (MRPC has one) would otherwise glue itself to the first header name.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  try {
    return { text: fatal.decode(bytes), badLines: new Set() }; // the common case: one pass, no copies
  } catch {
    return decodeByLine(bytes);
  }
}

/**
 * Decodes line by line to find which lines are broken. Splitting on the byte 0x0A is safe: in UTF-8 that
 * byte never occurs inside a multi-byte sequence, so a line break can't cut a valid character in two.
 */
function decodeByLine(bytes: Uint8Array): DecodedText {
  const parts: string[] = [];
  const badLines = new Set<number>();
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const chunk = bytes.subarray(start, end);
    try {
      parts.push(fatal.decode(chunk));
    } catch {
      badLines.add(line);
      parts.push(lenient.decode(chunk));
    }
    start = end + 1;
  }
  return { text: parts.join('\n'), badLines };
}
