import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { pngTextChunks } from '../src/png.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// chunk builds a PNG chunk; the CRC is not checked by the reader, so it is zero.
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
}

const png = (...chunks) => new Uint8Array(Buffer.concat([SIGNATURE, ...chunks, chunk('IEND', Buffer.alloc(0))]));
const ihdr = chunk('IHDR', Buffer.alloc(13));

test('reads tEXt, zTXt and iTXt chunks', async () => {
  const workflow = JSON.stringify({ nodes: [], note: 'été ✓' });
  const buf = png(
    ihdr,
    chunk('tEXt', Buffer.from('prompt\0{"1":{}}', 'latin1')),
    chunk('zTXt', Buffer.concat([Buffer.from('comment\0\0', 'latin1'), deflateSync(Buffer.from('squeezed', 'latin1'))])),
    chunk('iTXt', Buffer.concat([Buffer.from('workflow\0\x01\x00en\0\0', 'latin1'), deflateSync(Buffer.from(workflow, 'utf8'))])),
    chunk('iTXt', Buffer.concat([Buffer.from('plain\0\x00\x00\0\0', 'latin1'), Buffer.from('ünïcode', 'utf8')])),
  );
  assert.deepEqual(await pngTextChunks(buf), {
    prompt: '{"1":{}}',
    comment: 'squeezed',
    workflow,
    plain: 'ünïcode',
  });
});

test('tEXt is Latin-1', async () => {
  const buf = png(chunk('tEXt', Buffer.from('k\0caf\xe9', 'latin1')));
  assert.deepEqual(await pngTextChunks(buf), { k: 'café' });
});

test('the first chunk of a keyword wins', async () => {
  const buf = png(chunk('tEXt', Buffer.from('k\0one', 'latin1')), chunk('tEXt', Buffer.from('k\0two', 'latin1')));
  assert.deepEqual(await pngTextChunks(buf), { k: 'one' });
});

test('bad input never throws', async (t) => {
  const good = png(chunk('tEXt', Buffer.from('prompt\0{}', 'latin1')));
  const cases = {
    empty: new Uint8Array(0),
    'not a png': new TextEncoder().encode('{"nodes": []}'),
    'truncated chunk': good.subarray(0, good.length - 20),
    'huge length': png(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x74, 0x45, 0x58, 0x74])),
    'no keyword': png(chunk('tEXt', Buffer.from('\0value', 'latin1'))),
    'bad zlib': png(chunk('zTXt', Buffer.from('k\0\0garbage', 'latin1'))),
    'unterminated iTXt': png(chunk('iTXt', Buffer.from('k\0\0\0en', 'latin1'))),
  };
  for (const [name, buf] of Object.entries(cases)) {
    await t.test(name, async () => {
      const got = await pngTextChunks(buf);
      assert.equal(typeof got, 'object');
    });
  }
  assert.deepEqual(await pngTextChunks(cases['truncated chunk']), {});
});

test('reads from an ArrayBuffer', async () => {
  const buf = png(chunk('tEXt', Buffer.from('a\0b', 'latin1')));
  assert.deepEqual(await pngTextChunks(buf.slice().buffer), { a: 'b' });
});
