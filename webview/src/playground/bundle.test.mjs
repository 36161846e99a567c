// The playground's bundle, as build.mjs writes it: what the panel's CSP and the host's HTML rely on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildWebview } from '../../build.mjs';

describe('playground bundle', () => {
  let dir;
  const read = (f) => readFile(path.join(dir, f), 'utf8');
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'peft-playground-web-'));
    await buildWebview({ outdir: dir, minify: true });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is a self-contained IIFE with nothing a strict CSP blocks, and no validator', async () => {
    const js = await read('playground.js');
    assert.doesNotMatch(js, /\bimport\s*\(|^\s*import\s|^\s*export\s/m, 'no module syntax');
    assert.doesNotMatch(js, /\beval\(|new Function\(/, 'no eval');
    assert.doesNotMatch(js, /innerHTML|cssText|insertRule|setAttribute\("style"/, 'no inline styles or HTML strings');
    assert.doesNotMatch(js, /ZodError|\$ZodType/, 'zod stays in the host');
    assert.ok(js.length < 40_000, `playground.js is ${js.length} bytes`);
  });

  it('its stylesheet is bundled and themed from VS Code variables', async () => {
    const css = await read('playground.css');
    assert.doesNotMatch(css, /@import|https?:\/\//);
    assert.match(css, /var\(--vscode-button-background\)/);
    assert.match(css, /url\("\.\/codicon\.ttf/);
  });
});
