// Bundles the webviews once and checks what the CSP and the extension's packaging rely on.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildWebview } from './build.mjs';

describe('buildWebview', () => {
  let dir;
  const read = (f) => readFile(path.join(dir, f), 'utf8');
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'peft-webview-'));
    await buildWebview({ outdir: dir, minify: true });
  });

  it('writes every file the host links', async () => {
    for (const f of ['dashboard.js', 'dashboard.css', 'sidebar.js', 'sidebar.css', 'codicon.css', 'codicon.ttf']) assert.ok((await stat(path.join(dir, f))).size > 0, f);
  });

  it('scripts are self-contained IIFEs with nothing a strict CSP blocks', async () => {
    for (const f of ['dashboard.js', 'sidebar.js']) {
      const js = await read(f);
      assert.doesNotMatch(js, /\bimport\s*\(|^\s*import\s|^\s*export\s/m, `${f}: no module syntax`);
      assert.doesNotMatch(js, /\beval\(|new Function\(/, `${f}: no eval`);
      assert.doesNotMatch(js, /innerHTML|cssText|insertRule|setAttribute\("style"/, `${f}: no inline styles or HTML strings`);
    }
  });

  it('leaves zod out (the host validates) and stays small', async () => {
    const dashboard = await read('dashboard.js');
    const sidebar = await read('sidebar.js');
    assert.doesNotMatch(dashboard, /ZodError|\$ZodType/);
    assert.ok(dashboard.length < 350_000, `dashboard.js is ${dashboard.length} bytes`);
    assert.ok(sidebar.length < 40_000, `sidebar.js is ${sidebar.length} bytes`);
  });

  it('stylesheets carry the codicon font from the same folder', async () => {
    for (const f of ['dashboard.css', 'sidebar.css']) {
      const css = await read(f);
      assert.match(css, /url\("\.\/codicon\.ttf/);
      assert.match(css, /\.codicon-debug-pause/);
      assert.doesNotMatch(css, /@import|https?:\/\//, `${f}: bundled, no remote or further imports`);
    }
  });

  it('cleans up', async () => rm(dir, { recursive: true, force: true }));
});
