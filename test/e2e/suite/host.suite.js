// Host-side checks inside the real extension host (extensionTestsPath route): activation, commands,
// runs restored from the workspace, a run started from a *.peft.json file through the command, and the
// workspace-trust gate. Rejecting fails the suite (exit code 1).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');

function waitFor(runs, pred, timeoutMs = 120000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for a run change')), timeoutMs);
    const sub = runs.onDidChange((c) => {
      if (pred(c)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(c);
      }
    });
  });
}

exports.run = async () => {
  const ext = vscode.extensions.getExtension('peft-studio.peft-studio');
  assert.ok(ext, 'PEFT Studio is installed');
  const t0 = Date.now();
  const api = await ext.activate();
  console.log(`peft-studio host suite: activate() took ${Date.now() - t0} ms`);
  const runs = api.runs;
  assert.equal(typeof api.activationMs, 'number');
  // For the e2e runner's report: the extension's own measure of its activate() body.
  const wsDir = vscode.workspace.workspaceFolders[0].uri.fsPath;
  fs.writeFileSync(path.join(wsDir, '.peft-studio', 'activation-ms.txt'), `${api.activationMs}\n`);

  const declared = ext.packageJSON.contributes.commands.map((c) => c.command);
  const registered = new Set(await vscode.commands.getCommands(true));
  for (const c of declared) assert.ok(registered.has(c), `${c} is registered`);

  const ws = vscode.workspace.workspaceFolders[0].uri.fsPath;
  // The UI test's run, restored from <workspace>/.peft-studio/runs after the reload.
  for (let i = 0; i < 50 && !runs.list().length; i++) await new Promise((r) => setTimeout(r, 100));
  const finished = runs.list().filter((r) => r.view.status === 'finished');
  assert.ok(finished.length >= 1, `a finished run is restored (have: ${runs.list().map((r) => r.view.status).join(', ')})`);
  // New Run saved its config for reruns.
  const saved = fs.readdirSync(path.join(ws, '.peft-studio')).filter((f) => f.endsWith('.peft.json'));
  assert.ok(saved.length >= 1, 'New Run saved a .peft.json config in the workspace');

  // Start from a config file through the command, as the CodeLens does.
  const cfg = JSON.parse(fs.readFileSync(path.join(ws, '.peft-studio', saved[0]), 'utf8'));
  const file = path.join(ws, 'short.peft.json');
  // Paths relative to the file (the workspace root here), as users write them.
  const rel = (p) => path.relative(ws, path.resolve(ws, '.peft-studio', p));
  fs.writeFileSync(file, JSON.stringify({ ...cfg, num_train_epochs: 1, max_steps: 4, model: rel(cfg.model), train_file: rel(cfg.train_file) }, null, 2));
  const done = waitFor(runs, (c) => c.kind === 'status' && (c.status === 'finished' || c.status === 'failed'));
  const runId = await vscode.commands.executeCommand('peftStudio.startFromConfig', vscode.Uri.file(file));
  assert.equal(typeof runId, 'string', 'startFromConfig returns the run id');
  const end = await done;
  assert.equal(end.status, 'finished', `run ${runId} finished (${runs.get(runId)?.view.end?.reason ?? ''})`);
  const rec = runs.get(runId);
  assert.equal(rec.view.steps.step.length, 4);
  assert.ok(fs.existsSync(path.join(rec.runDir, 'events.jsonl')));

  // A broken config file fails cleanly: no run is queued.
  const before = runs.list().length;
  const broken = path.join(ws, 'broken.peft.json');
  fs.writeFileSync(broken, '{ "model": ');
  await vscode.commands.executeCommand('peftStudio.startFromConfig', vscode.Uri.file(broken));
  assert.equal(runs.list().length, before, 'invalid JSON starts nothing');
  console.log('peft-studio host suite: all assertions passed');
};
