/**
 * Notebook commands: New Notebook (a starter for the last model/dataset chosen in New Run), Compare Cells
 * (inserts a `compare:` cell and runs it, so the comparison is saved with the notebook and re-runs when its
 * cells change), and Re-run with Changes… (a run's config as a new cell, in the notebook it came from).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunManager } from '../core/runManager';
import { COMPARE_KEY } from './cells';
import { ensureCellId, runOutputOf } from './controller';
import { newCellId } from './format';
import { baseDirOf, cellIdOf, isPeftNotebook } from './notebookCells';
import { readOrigin } from './origin';
import { CELL_ID, NOTEBOOK_TYPE, toCellData } from './serializer';
import { rerunCellText, starterNotebook } from './starter';

/** newRun.ts's globalState key: New Notebook starts from the model and data last picked there. */
const LAST_NEW_RUN = 'peftStudio.lastNewRun';

export async function newNotebook(context: vscode.ExtensionContext): Promise<void> {
  const last = context.globalState.get<{ model?: string; trainFile?: string; evalFile?: string }>(LAST_NEW_RUN) ?? {};
  let model = last.model && fs.existsSync(path.join(last.model, 'config.json')) ? last.model : undefined;
  if (!model) {
    const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model', title: 'New PEFT notebook: HuggingFace model folder' });
    model = uri?.[0]?.fsPath;
    if (!model) return;
  }
  let trainFile = last.trainFile && fs.existsSync(last.trainFile) ? last.trainFile : undefined;
  if (!trainFile) {
    const uri = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Data: ['csv', 'tsv', 'jsonl', 'parquet'] }, title: 'New PEFT notebook: training data' });
    trainFile = uri?.[0]?.fsPath;
    if (!trainFile) return;
  }
  const evalFile = last.evalFile && fs.existsSync(last.evalFile) ? last.evalFile : undefined;
  // Untitled: its relative paths are relative to the workspace folder until it is saved somewhere.
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const ids = new Set<string>();
  const nb = starterNotebook({ model, trainFile, evalFile }, base, () => {
    const id = newCellId(ids);
    ids.add(id);
    return id;
  });
  const doc = await vscode.workspace.openNotebookDocument(NOTEBOOK_TYPE, new vscode.NotebookData(nb.cells.map(toCellData)));
  await vscode.window.showNotebookDocument(doc);
}

export async function compareCells(): Promise<void> {
  const editor = vscode.window.activeNotebookEditor;
  if (!editor || !isPeftNotebook(editor.notebook)) return void vscode.window.showInformationMessage('PEFT Studio: open a PEFT notebook (.peftnb) to compare its cells.');
  const nb = editor.notebook;
  const withRuns = nb.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code && runOutputOf(c));
  const selected = withRuns.filter((c) => editor.selections.some((r) => c.index >= r.start && c.index < r.end));
  const picked = selected.length >= 2 ? selected : withRuns;
  if (picked.length < 2) return void vscode.window.showInformationMessage('PEFT Studio: run at least two cells to compare them.');
  const ids: string[] = [];
  for (const c of picked) ids.push(await ensureCellId(c));
  const at = nb.cellCount;
  const cell = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, `# Comparison (re-run this cell to refresh it)\n${COMPARE_KEY}: [${ids.join(', ')}]\n`, 'yaml');
  cell.metadata = { [CELL_ID]: newCellId(new Set(nb.getCells().map(cellIdOf).filter((x): x is string => !!x))) };
  const edit = new vscode.WorkspaceEdit();
  edit.set(nb.uri, [vscode.NotebookEdit.insertCells(at, [cell])]);
  await vscode.workspace.applyEdit(edit);
  editor.selections = [new vscode.NotebookRange(at, at + 1)];
  editor.revealRange(new vscode.NotebookRange(at, at + 1), vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
  await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: at, end: at + 1 }], document: nb.uri });
}

export async function rerunWithChanges(runs: RunManager, arg: unknown): Promise<void> {
  const runId = typeof arg === 'string' ? arg : (arg as { kind?: string; runId?: string } | undefined)?.kind === 'run' ? (arg as { runId: string }).runId : await pickRun(runs);
  const rec = runId ? runs.get(runId) : undefined;
  if (!rec) return;
  const origin = readOrigin(rec.runDir);
  let editor = vscode.window.activeNotebookEditor;
  if (!editor || !isPeftNotebook(editor.notebook)) {
    const open = origin && path.isAbsolute(origin.notebook) && fs.existsSync(origin.notebook) ? vscode.Uri.file(origin.notebook) : undefined;
    const doc = open ? await vscode.workspace.openNotebookDocument(open) : await vscode.workspace.openNotebookDocument(NOTEBOOK_TYPE, new vscode.NotebookData([]));
    editor = await vscode.window.showNotebookDocument(doc);
  }
  const nb = editor.notebook;
  const config = { ...rec.config, run_name: `${rec.view.label} (re-run)` };
  const cell = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, rerunCellText(config, rec.view.label, rec.runId, baseDirOf(nb)), 'yaml');
  cell.metadata = { [CELL_ID]: newCellId(new Set(nb.getCells().map(cellIdOf).filter((x): x is string => !!x))) };
  const at = nb.cellCount;
  const edit = new vscode.WorkspaceEdit();
  edit.set(nb.uri, [vscode.NotebookEdit.insertCells(at, [cell])]);
  await vscode.workspace.applyEdit(edit);
  editor.selections = [new vscode.NotebookRange(at, at + 1)];
  editor.revealRange(new vscode.NotebookRange(at, at + 1), vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
}

async function pickRun(runs: RunManager): Promise<string | undefined> {
  const items = runs.list().filter((r) => r.view.status !== 'queued').map((r) => ({ label: r.view.label, description: `${r.view.status} · ${r.runId}`, runId: r.runId }));
  if (!items.length) return void vscode.window.showInformationMessage('PEFT Studio: no runs yet.');
  return (await vscode.window.showQuickPick(items, { title: 'Run to re-run with changes' }))?.runId;
}
