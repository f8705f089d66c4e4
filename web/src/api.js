// The server's HTTP and WebSocket API, as ComfyUI's frontend calls it: JSON
// routes under {base}/api, the socket at {base}/ws. The base is the page's
// directory, so the page also works behind a proxy under a sub-path.

const base = location.pathname.replace(/\/[^/]*$/, '');

/** ApiError is a non-2xx answer; body is the parsed JSON body when there is one. */
export class ApiError extends Error {
  constructor(status, body, text) {
    super(errorMessage(status, body, text));
    this.status = status;
    this.body = body;
  }
}

function errorMessage(status, body, text) {
  const e = body?.error;
  if (typeof e === 'string') return e;
  if (e?.message) return e.details ? `${e.message}: ${e.details}` : e.message;
  return `HTTP ${status}${text ? ': ' + text.slice(0, 200) : ''}`;
}

/** request fetches {base}/api{route} and returns the parsed JSON body, or throws ApiError. */
export async function request(route, { method = 'GET', body } = {}) {
  const init = { method, cache: 'no-store', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${base}/api${route}`, init);
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, parsed, parsed === undefined ? text : '');
  return parsed;
}

/** viewURL is the /view address of a saved file ({filename, subfolder, type}). */
export function viewURL(file) {
  const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder ?? '', type: file.type ?? 'output' });
  return `${base}/api/view?${q}`;
}

/** uploadImage posts a file to /upload/image and returns the name to put in a LoadImage combo. */
export async function uploadImage(file) {
  const form = new FormData();
  form.append('image', file);
  const res = await fetch(`${base}/api/upload/image`, { method: 'POST', body: form });
  if (!res.ok) throw new ApiError(res.status, undefined, await res.text());
  const { name, subfolder } = await res.json();
  return subfolder ? `${subfolder}/${name}` : name;
}

/**
 * Socket keeps a WebSocket to /ws open, reconnecting with back-off, and
 * hands every JSON message to onMessage(type, data) and every binary
 * preview to onPreview(blob, nodeId|undefined). clientId is the session id
 * the server gave (its first status message carries it); prompts queued
 * with it get their events on this socket.
 */
export class Socket {
  constructor({ onMessage, onPreview, onState }) {
    this.onMessage = onMessage;
    this.onPreview = onPreview;
    this.onState = onState;
    this.clientId = sessionStorage.getItem('gocomfy.clientId') ?? '';
    this.delay = 500;
    this.connect();
  }

  connect() {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const q = this.clientId ? `?clientId=${encodeURIComponent(this.clientId)}` : '';
    const ws = new WebSocket(`${proto}://${location.host}${base}/ws${q}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.delay = 500;
      ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
      this.onState('connected');
    };
    ws.onclose = () => {
      this.onState('disconnected');
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10_000);
    };
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) {
        this.binary(ev.data);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg?.type === 'status' && msg.data?.sid) {
        this.clientId = msg.data.sid;
        sessionStorage.setItem('gocomfy.clientId', this.clientId);
      }
      if (msg?.type) this.onMessage(msg.type, msg.data ?? {});
    };
  }

  // binary decodes preview frames: type 1 [u32 image type][image] and
  // type 4 [u32 metadata length][metadata JSON][image]. Others are ignored.
  binary(buf) {
    if (buf.byteLength < 8) return;
    const view = new DataView(buf);
    const kind = view.getUint32(0);
    if (kind === 1) {
      const mime = view.getUint32(4) === 2 ? 'image/png' : 'image/jpeg';
      this.onPreview(new Blob([buf.slice(8)], { type: mime }), undefined);
    } else if (kind === 4) {
      const len = view.getUint32(4);
      if (8 + len > buf.byteLength) return;
      let meta;
      try {
        meta = JSON.parse(new TextDecoder().decode(buf.slice(8, 8 + len)));
      } catch {
        return;
      }
      const blob = new Blob([buf.slice(8 + len)], { type: meta.image_type || 'image/jpeg' });
      this.onPreview(blob, meta.display_node_id ?? meta.node_id);
    }
  }
}
