/** Reading a vscode notebook through the pure cell logic: code cells in order, parsed, resolvable. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseCell, resolveCell, type ParsedCell, type Resolution } from './cells';
import { NOTEBOOK_TYPE, CELL_ID } from './serializer';

export interface CodeCells {
  cells: vscode.NotebookCell[];
  parsed: ParsedCell[];
}

export function codeCells(nb: vscode.NotebookDocument): CodeCells {
  const cells = nb.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
  return { cells, parsed: cells.map((c) => parseCell(c.document.getText())) };
}

export function resolveNotebookCell(cc: CodeCells, cell: vscode.NotebookCell): Resolution {
  return resolveCell(cc.parsed, cc.cells.indexOf(cell));
}

export function isPeftNotebook(nb: vscode.NotebookDocument | undefined): nb is vscode.NotebookDocument {
  return nb?.notebookType === NOTEBOOK_TYPE;
}

export function cellIdOf(cell: vscode.NotebookCell): string | undefined {
  const id = cell.metadata?.[CELL_ID];
  return typeof id === 'string' ? id : undefined;
}

/** Folder relative paths in cells are relative to: the notebook's own, or the workspace's for an untitled one. */
export function baseDirOf(nb: vscode.NotebookDocument): string | undefined {
  if (nb.uri.scheme === 'file') return path.dirname(nb.uri.fsPath);
  return vscode.workspace.getWorkspaceFolder(nb.uri)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}
