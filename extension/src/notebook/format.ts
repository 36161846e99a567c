/**
 * The .peftnb file format, free of vscode so it is unit-tested in Node. A notebook is JSON written for git:
 * keys in one fixed order (then alphabetical), two-space indentation, and cell sources as arrays of lines
 * (as .ipynb does), so editing one line of a cell changes one line of the file.
 *
 *   { "format": "peft-studio-notebook", "version": 1,
 *     "cells": [ { "kind": "markdown", "source": [...] },
 *                { "kind": "code", "id": "c1a2b3", "language": "yaml", "source": [...],
 *                  "execution": { "order": 1, "success": true },
 *                  "outputs": [ { "mime": "application/vnd.peft-studio.run+json", "data": {...} } ] } ] }
 *
 * The file is untrusted input (it may come from anyone's repository): it is validated with zod, outputs are
 * kept only for this extension's own mime types, and a malformed file is an error, not a silent reset.
 */
import * as z from 'zod/mini';
import { PeftStudioError } from '../../../engine/errors';
import { COMPARE_MIME, RUN_MIME } from '../../../protocol/notebook-output';

export const FORMAT = 'peft-studio-notebook';
export const FORMAT_VERSION = 1;
export const OUTPUT_MIMES = [RUN_MIME, COMPARE_MIME] as const;

export interface FileOutput {
  mime: (typeof OUTPUT_MIMES)[number];
  data: unknown;
}

export interface FileCell {
  kind: 'markdown' | 'code';
  /** Stable cell id (code cells): runs, comparisons and the Runs tree refer to cells by it. */
  id?: string;
  language?: string;
  source: string;
  execution?: { order?: number; success?: boolean };
  outputs?: FileOutput[];
}

export interface NotebookFile {
  cells: FileCell[];
}

const Output = z.object({ mime: z.enum(OUTPUT_MIMES), data: z.unknown() });
const Cell = z.object({
  kind: z.enum(['markdown', 'code']),
  id: z.optional(z.string().check(z.maxLength(64), z.regex(/^[A-Za-z0-9_-]+$/))),
  language: z.optional(z.string().check(z.maxLength(40))),
  source: z.union([z.string(), z.array(z.string())]),
  execution: z.optional(z.object({ order: z.optional(z.number()), success: z.optional(z.boolean()) })),
  outputs: z.optional(z.array(z.looseObject({ mime: z.string(), data: z.unknown() }))),
});
const File = z.object({ format: z.literal(FORMAT), version: z.literal(FORMAT_VERSION), cells: z.array(Cell) });

/** Parses file text; an empty file is an empty notebook (what "New File…" creates). Throws with a reason otherwise. */
export function parseNotebook(text: string): NotebookFile {
  if (!text.trim()) return { cells: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PeftStudioError('BAD_INPUT', `not a PEFT notebook: invalid JSON (${(e as Error).message})`);
  }
  const r = File.safeParse(raw);
  if (!r.success) throw new PeftStudioError('BAD_INPUT', `not a PEFT notebook: ${r.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`);
  return {
    cells: r.data.cells.map((c) => {
      const cell: FileCell = { kind: c.kind, source: Array.isArray(c.source) ? c.source.join('') : c.source };
      if (c.id) cell.id = c.id;
      if (c.language) cell.language = c.language;
      if (c.execution) cell.execution = c.execution;
      // Outputs of other mime types are dropped: only this extension's renderer is trusted with them.
      const outputs: FileOutput[] = [];
      for (const o of c.outputs ?? []) {
        const ok = Output.safeParse(o);
        if (ok.success) outputs.push({ mime: ok.data.mime, data: ok.data.data });
      }
      if (outputs.length) cell.outputs = outputs;
      return cell;
    }),
  };
}

/** Source text → lines that keep their "\n" (joined back with ''), the .ipynb convention. */
export function toLines(source: string): string[] {
  return source.length ? (source.match(/[^\n]*\n|[^\n]+$/g) ?? []) : [];
}

const KEY_ORDER = ['format', 'version', 'kind', 'id', 'language', 'source', 'execution', 'outputs', 'mime', 'v', 'runId', 'label', 'status', 'data'];

/**
 * JSON with keys in KEY_ORDER first, the rest alphabetically, at every depth: byte-stable for the same
 * notebook. Two-space indentation, except that arrays of numbers (loss series) go on one line each: one
 * number per line would make a 200-point curve 200 lines of diff noise.
 */
export function stableStringify(value: unknown): string {
  return print(sortKeys(value), '') + '\n';
}

function print(v: unknown, indent: string): string {
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    if (v.every((x) => typeof x === 'number' || x === null)) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${v.map((x) => inner + print(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    if (!entries.length) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${print(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return typeof v === 'number' && !Number.isFinite(v) ? null : v;
  const rank = (k: string) => {
    const i = KEY_ORDER.indexOf(k);
    return i < 0 ? KEY_ORDER.length : i;
  };
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(keys.map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}

export function serializeNotebook(nb: NotebookFile): string {
  return stableStringify({
    format: FORMAT,
    version: FORMAT_VERSION,
    cells: nb.cells.map((c) => ({
      kind: c.kind,
      id: c.kind === 'code' ? c.id : undefined,
      language: c.kind === 'code' ? c.language : undefined,
      source: toLines(c.source),
      execution: c.execution && (c.execution.order !== undefined || c.execution.success !== undefined) ? c.execution : undefined,
      outputs: c.outputs?.length ? c.outputs : undefined,
    })),
  });
}

/** A short random cell id (6 hex digits is plenty within one notebook; collisions are re-drawn by the caller). */
export function newCellId(taken: ReadonlySet<string> = new Set(), random: () => number = Math.random): string {
  for (;;) {
    const id = Math.floor(random() * 0xffffff).toString(16).padStart(6, '0');
    if (!taken.has(id)) return id;
  }
}
