/** The download view: a line per finished file off a terminal, a cli-progress bar on one. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { DownloadProgress, formatBytes } from '../../engine/hub';

function sink(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean; columns?: number }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean; columns?: number } = new PassThrough();
  stream.isTTY = isTTY;
  stream.columns = 120;
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return { stream, text: () => out };
}

describe('DownloadProgress', () => {
  it('formats sizes in binary units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(417.7 * 1024 * 1024), '417.7 MiB');
  });

  it('off a terminal: one line per finished file, with size, time, speed and where it resumed', () => {
    const { stream, text } = sink(false);
    let t = 0;
    const view = new DownloadProgress({ stream, now: () => t });
    view.onProgress({ file: 'config.json', bytes: 0, total: 500 });
    view.onProgress({ file: 'config.json', bytes: 500, total: 500 });
    view.onProgress({ file: 'config.json', bytes: 500, total: 500 }); // the post-rename report: not twice
    view.onProgress({ file: 'model.safetensors', bytes: 1024 * 1024, total: 3 * 1024 * 1024 });
    t = 2000;
    view.onProgress({ file: 'model.safetensors', bytes: 2 * 1024 * 1024, total: 3 * 1024 * 1024 });
    assert.equal(text().split('\n').length, 2, 'nothing for an unfinished file');
    t = 4000;
    view.onProgress({ file: 'model.safetensors', bytes: 3 * 1024 * 1024, total: 3 * 1024 * 1024 });
    view.close();
    assert.equal(
      text(),
      'downloaded config.json: 500 B in 0.0 s (488.3 KiB/s)\n' + 'downloaded model.safetensors: 3.0 MiB in 4.0 s (512.0 KiB/s, resumed at 1.0 MiB)\n',
    );
  });

  it('on a terminal: draws a bar per file and leaves it finished', () => {
    const { stream, text } = sink(true);
    const view = new DownloadProgress({ stream, tty: true });
    view.onProgress({ file: 'vocab.txt', bytes: 0, total: 2048 });
    view.onProgress({ file: 'vocab.txt', bytes: 2048, total: 2048 });
    view.onProgress({ file: 'model.safetensors', bytes: 0 }); // no Content-Length
    view.onProgress({ file: 'model.safetensors', bytes: 4096 });
    view.close();
    assert.match(text(), /vocab\.txt \|.*\| 100% \| 2\.0 KiB\/2\.0 KiB/);
    assert.match(text(), /model\.safetensors \|.*4\.0 KiB\/\?/);
  });
});
