// PNG text chunks: ComfyUI writes the API prompt ("prompt") and the UI graph
// ("workflow") into tEXt chunks of every image it saves, so dropping such an
// image on the page reopens the workflow that made it.

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * pngTextChunks returns the text chunks (tEXt, zTXt, iTXt) of a PNG as a map
 * keyword → text. Compressed chunks are inflated with `inflate` (a function
 * from Uint8Array to Promise<Uint8Array>); without it they are skipped.
 * A buffer that is not a PNG, or is cut short, yields the chunks read so far
 * and never throws.
 *
 * @param {ArrayBuffer|Uint8Array} buf
 * @param {(data: Uint8Array) => Promise<Uint8Array>} [inflate]
 * @returns {Promise<Record<string, string>>}
 */
export async function pngTextChunks(buf, inflate = browserInflate) {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  const out = {};
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  while (pos + 8 <= bytes.length) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const start = pos + 8;
    const end = start + length;
    if (end + 4 > bytes.length) break; // truncated: keep what we have
    const data = bytes.subarray(start, end);
    try {
      const chunk = await textChunk(type, data, inflate);
      if (chunk && !(chunk[0] in out)) out[chunk[0]] = chunk[1];
    } catch {
      // A damaged or undecodable chunk is skipped: the others may still hold the workflow.
    }
    if (type === 'IEND') break;
    pos = end + 4; // skip the CRC
  }
  return out;
}

/** textChunk decodes one text chunk into [keyword, text], or null for other chunk types. */
async function textChunk(type, data, inflate) {
  if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') return null;
  const nul = data.indexOf(0);
  if (nul <= 0) return null;
  const keyword = latin1(data.subarray(0, nul));
  let rest = data.subarray(nul + 1);
  if (type === 'tEXt') return [keyword, latin1(rest)];
  if (type === 'zTXt') {
    if (!inflate || rest[0] !== 0) return null; // method 0 is zlib, the only one defined
    return [keyword, latin1(await inflate(rest.subarray(1)))];
  }
  // iTXt: compression flag, method, language tag\0, translated keyword\0, UTF-8 text.
  const compressed = rest[0] === 1;
  rest = rest.subarray(2);
  for (let i = 0; i < 2; i++) {
    const z = rest.indexOf(0);
    if (z < 0) return null;
    rest = rest.subarray(z + 1);
  }
  if (compressed) {
    if (!inflate) return null;
    rest = await inflate(rest);
  }
  return [keyword, new TextDecoder().decode(rest)];
}

function latin1(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** browserInflate inflates zlib data with the platform's DecompressionStream (browsers, Node ≥ 18). */
async function browserInflate(data) {
  if (typeof DecompressionStream === 'undefined') throw new Error('no DecompressionStream');
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
