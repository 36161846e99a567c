/**
 * Problems and completion in notebook cells. Diagnostics are computed for the whole notebook at once
 * (debounced), because with `extends: previous` an edit in one cell can break the cells below it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ParsedCell, Span } from './cells';
import { EXTENDS_KEY, resolveCell } from './cells';
import { suggestionsAt } from './completion';
import { baseDirOf, codeCells, isPeftNotebook } from './notebookCells';
import { methodOfConfig } from '../../../protocol/method';
import { validateConfig } from './schema';
import { studyProblemSpan, validateStudyCell } from './study-cell';
import { NOTEBOOK_TYPE } from './serializer';

const PATH_KEYS = ['model', 'train_file', 'eval_file'];

export function registerDiagnostics(): vscode.Disposable[] {
  const collection = vscode.languages.createDiagnosticCollection('peft-studio-notebook');
  const timers = new Map<string, NodeJS.Timeout>();
  const schedule = (nb: vscode.NotebookDocument) => {
    if (!isPeftNotebook(nb)) return;
    const key = nb.uri.toString();
    clearTimeout(timers.get(key));
    timers.set(key, setTimeout(() => {
      timers.delete(key);
      if (!nb.isClosed) refresh(collection, nb);
    }, 250));
  };
  for (const nb of vscode.workspace.notebookDocuments) schedule(nb);
  return [
    collection,
    vscode.workspace.onDidOpenNotebookDocument(schedule),
    vscode.workspace.onDidChangeNotebookDocument((e) => schedule(e.notebook)),
    vscode.workspace.onDidCloseNotebookDocument((nb) => {
      for (const c of nb.getCells()) collection.delete(c.document.uri);
    }),
    vscode.languages.registerCompletionItemProvider({ notebookType: NOTEBOOK_TYPE, language: 'yaml' }, { provideCompletionItems }, ':', ' '),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  ];
}

function refresh(collection: vscode.DiagnosticCollection, nb: vscode.NotebookDocument): void {
  const cc = codeCells(nb);
  const base = baseDirOf(nb);
  cc.cells.forEach((cell, i) => {
    const doc = cell.document;
    const parsed = cc.parsed[i]!;
    const range = (s: Span) => new vscode.Range(doc.positionAt(s[0]), doc.positionAt(s[1]));
    const whole = new vscode.Range(0, 0, 0, Math.max(1, doc.lineAt(0).text.length));
    const out: vscode.Diagnostic[] = parsed.problems.map((p) => new vscode.Diagnostic(range(p.span), p.message, vscode.DiagnosticSeverity.Error));
    if (parsed.kind === 'run' && !parsed.problems.length) {
      const r = resolveCell(cc.parsed, i);
      const extendsAt = parsed.keySpans[EXTENDS_KEY] ? range(parsed.keySpans[EXTENDS_KEY]!) : whole;
      if (!r.ok) out.push(new vscode.Diagnostic(extendsAt, r.error, vscode.DiagnosticSeverity.Error));
      else {
        for (const issue of validateConfig(r.config)) {
          const own = issue.key !== undefined && issue.key in parsed.config;
          const at = own ? range((issue.message.startsWith('unknown') ? parsed.keySpans : parsed.valueSpans)[issue.key!]!) : parsed.extendsPrevious ? extendsAt : whole;
          out.push(new vscode.Diagnostic(at, own || !issue.key ? issue.message : `inherited: ${issue.message}`, vscode.DiagnosticSeverity.Error));
        }
        out.push(...missingPaths(parsed, base, range));
      }
    }
    if (parsed.kind === 'study' && !parsed.problems.length) {
      for (const p of validateStudyCell(parsed.study)) out.push(new vscode.Diagnostic(range(studyProblemSpan(parsed, p)), p.message, vscode.DiagnosticSeverity.Error));
    }
    for (const d of out) d.source = 'PEFT Studio';
    collection.set(doc.uri, out);
  });
}

/** A model folder or data file that does not exist is a warning (it may be created before the run). */
function missingPaths(parsed: ParsedCell, base: string | undefined, range: (s: Span) => vscode.Range): vscode.Diagnostic[] {
  const out: vscode.Diagnostic[] = [];
  for (const k of PATH_KEYS) {
    const v = parsed.config[k];
    if (typeof v !== 'string' || !v) continue;
    const abs = base ? path.resolve(base, v) : v;
    if (!fs.existsSync(abs)) out.push(new vscode.Diagnostic(range(parsed.valueSpans[k]!), `${k}: ${abs} does not exist`, vscode.DiagnosticSeverity.Warning));
  }
  return out;
}

function provideCompletionItems(doc: vscode.TextDocument, pos: vscode.Position): vscode.CompletionItem[] {
  const prefix = doc.lineAt(pos.line).text.slice(0, pos.character);
  const method = cellMethod(doc);
  const used = new Set<string>();
  let firstContent = true;
  for (let l = 0; l < doc.lineCount; l++) {
    const text = doc.lineAt(l).text;
    const m = /^([A-Za-z_$][\w$]*)\s*:/.exec(text);
    if (m && l !== pos.line) used.add(m[1]!);
    if (l < pos.line && text.trim() && !text.trim().startsWith('#')) firstContent = false;
  }
  const wordStart = pos.character - (/[\w$]*$/.exec(prefix)?.[0].length ?? 0);
  const replace = new vscode.Range(pos.line, wordStart, pos.line, pos.character);
  return suggestionsAt(prefix, used, firstContent, method).map((s) => {
    const item = new vscode.CompletionItem(s.label, s.kind === 'key' ? vscode.CompletionItemKind.Property : vscode.CompletionItemKind.EnumMember);
    item.insertText = s.snippet ? new vscode.SnippetString(s.insertText) : s.insertText;
    item.range = replace;
    item.detail = s.detail;
    if (s.documentation) item.documentation = new vscode.MarkdownString(s.documentation);
    return item;
  });
}

/** The method of the cell being edited: its own `method:` or the one it inherits with `extends: previous`. */
function cellMethod(doc: vscode.TextDocument): string | undefined {
  const nb = vscode.workspace.notebookDocuments.find((n) => n.getCells().some((c) => c.document === doc));
  if (!nb) return undefined;
  const cc = codeCells(nb);
  const i = cc.cells.findIndex((c) => c.document === doc);
  if (i < 0) return undefined;
  const own = cc.parsed[i]!.config.method;
  if (own !== undefined) return methodOfConfig({ method: own }).name;
  const r = resolveCell(cc.parsed, i);
  return r.ok && r.config.method !== undefined ? methodOfConfig(r.config).name : undefined;
}
