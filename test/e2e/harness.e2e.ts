/**
 * Proves the e2e harness on a tiny fixture extension (fixtures/hello-ext): package it, install the .vsix
 * into a fresh code-server, run its command from the palette, check the webview rendered under a strict
 * CSP, screenshot it, then run its extensionTestsPath suite inside the real extension host (and a
 * deliberately failing one, which must report exit 1).
 * Named *.e2e.ts so scripts/run-tests.js (which collects *.test.ts) leaves it alone.
 * Needs scripts/e2e/setup.sh to have run.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { packageVsix, runCommand, runExtensionTests, screenshot, webviewFrame, withWorkbench } from './harness';

const FIXTURE = path.join(__dirname, 'fixtures/hello-ext');
const EXT_ID = 'peft-studio-e2e.hello-ext';

test('hello-ext: palette → webview → screenshot → extension tests', { timeout: 240_000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-e2e-hello-'));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace);
  fs.writeFileSync(path.join(workspace, 'notes.txt'), 'hello\n');
  const vsix = packageVsix(FIXTURE, path.join(tmp, 'hello-ext.vsix'));

  await withWorkbench(t, { tmp, extensionVsix: vsix, workspace, viewport: { width: 1280, height: 800 } }, async ({ server, browser, page, startedAt }) => {
    await runCommand(page, 'Hello E2E: Show');

    const body = webviewFrame(page, EXT_ID).locator('body[data-ready="1"]');
    await body.waitFor({ timeout: 20_000 });
    assert.equal(await body.locator('h1').textContent(), 'Hello E2E');
    const shot = await screenshot(page, 'hello-ext-panel');
    t.diagnostic(`UI cycle (start → screenshot): ${((Date.now() - startedAt) / 1000).toFixed(1)} s; ${shot}`);
    await page.close();

    const t1 = Date.now();
    // Fresh page: codeAutomationExit can be exposed only once per page.
    const code = await runExtensionTests(await browser.newPage(), server.url, path.join(FIXTURE, 'suite.js'), {
      folder: workspace,
    });
    t.diagnostic(`extensionTestsPath run: ${((Date.now() - t1) / 1000).toFixed(1)} s, exit ${code}`);
    assert.equal(code, 0);

    // And the route must report failures too, or a broken suite would pass silently.
    const failed = await runExtensionTests(
      await browser.newPage(),
      server.url,
      path.join(FIXTURE, 'failing-suite.js'),
      { folder: workspace, logOnFailure: false },
    );
    assert.equal(failed, 1);
  });
});
