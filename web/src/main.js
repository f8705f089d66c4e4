// gocomfy's page: a litegraph editor over the server's node catalogue, with
// a queue button, live execution state from /ws, and side panels.

import '@comfyorg/litegraph/style.css';
import './style.css';
import { LGraph, LGraphCanvas, LiteGraph } from '@comfyorg/litegraph';
import { Socket, request, uploadImage, viewURL } from './api.js';
import { applyControlModes, arrangeGraph, loadApiPrompt, registerNodeTypes, setImages } from './graph.js';
import { Gallery, JobsPanel, el, loadAssets } from './panels.js';
import { pngTextChunks } from './png.js';
import { uiToApi, workflowKind } from './workflow.js';

const STORAGE_KEY = 'gocomfy.workflow';
const $ = (sel) => document.querySelector(sel);

const MAX_MESSAGES = 6;

/** notify shows a message in the corner: errors stay until clicked, others fade. */
function notify(text, kind = 'info') {
  const box = el('div', { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.addEventListener('click', () => box.remove());
  const list = $('#messages');
  list.append(box);
  while (list.childElementCount > MAX_MESSAGES) list.firstElementChild.remove();
  if (kind !== 'error') setTimeout(() => box.remove(), 6000);
}

function download(name, data) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  el('a', { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

class App {
  constructor(defs) {
    this.defs = defs;
    this.graph = new LGraph();
    this.canvas = new LGraphCanvas($('#graph'), this.graph);
    this.canvas.show_info = false;
    this.gallery = new Gallery($('#gallery'));
    this.jobs = new JobsPanel($('#jobs'), {
      onOpen: (job) => this.showJob(job),
      onError: (msg) => notify(msg, 'error'),
    });
    this.running = null; // the node executing now
    registerNodeTypes(defs, {
      onChange: () => this.save(),
      onUpload: (node, widget) => this.upload(widget),
    });
    this.socket = new Socket({
      onMessage: (type, data) => this.onMessage(type, data),
      onPreview: (blob, nodeId) => this.onPreview(blob, nodeId),
      onState: (state) => {
        $('#connection').textContent = state;
        $('#connection').dataset.state = state;
      },
    });
  }

  /** restore reopens the workflow of the last visit. */
  restore() {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (!saved) return;
    try {
      this.open(JSON.parse(saved), 'last session', { quiet: true });
    } catch {
      localStorage.removeItem(STORAGE_KEY);
    }
  }

  save() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(this.graph.serialize()));
    } catch {
      // Storage full or disabled: the workflow just is not remembered.
    }
  }

  /** open shows a parsed workflow of either format in the editor. */
  open(doc, source, { quiet = false } = {}) {
    const kind = workflowKind(doc);
    if (kind === 'ui') {
      this.graph.clear();
      this.graph.configure(doc);
      if (doc.nodes.some((n) => !Array.isArray(n?.pos))) arrangeGraph(this.graph); // hand-written files may lack positions
    } else if (kind === 'api') {
      loadApiPrompt(this.graph, doc);
    } else {
      throw new Error(`${source} holds no ComfyUI workflow (neither UI nor API format).`);
    }
    this.running = null;
    this.canvas.ds.reset();
    this.graph.setDirtyCanvas(true, true);
    $('#hint').hidden = this.graph.nodes.length > 0;
    const unknown = this.graph.nodes.filter((n) => !LiteGraph.registered_node_types[n.type]).map((n) => n.type);
    if (unknown.length) notify(`Not installed on this server: ${[...new Set(unknown)].join(', ')}`, 'warning');
    if (!quiet) notify(`Opened ${source} (${kind} format, ${this.graph.nodes.length} nodes).`);
    this.save();
  }

  /** openFile reads a dropped or chosen file: JSON of either format, or a PNG carrying one. */
  async openFile(file) {
    try {
      let doc;
      if (file.type === 'image/png' || /\.png$/i.test(file.name)) {
        const text = await pngTextChunks(await file.arrayBuffer());
        const raw = text.workflow ?? text.prompt;
        if (!raw) throw new Error(`${file.name} carries no workflow.`);
        doc = JSON.parse(raw);
      } else {
        doc = JSON.parse(await file.text());
      }
      this.open(doc, file.name);
    } catch (e) {
      notify(e instanceof SyntaxError ? `${file.name} is not valid JSON: ${e.message}` : e.message, 'error');
    }
  }

  /** prompt converts the editor's graph to the API format. */
  prompt() {
    const workflow = this.graph.serialize();
    const { prompt, warnings } = uiToApi(workflow, this.defs);
    return { workflow, prompt, warnings };
  }

  async queue() {
    const { workflow, prompt, warnings } = this.prompt();
    for (const w of warnings) notify(w, 'warning');
    for (const node of this.graph.nodes) if (node.exec?.status === 'error') node.exec = { images: node.exec.images };
    try {
      const res = await request('/prompt', {
        method: 'POST',
        body: { client_id: this.socket.clientId, prompt, extra_data: { extra_pnginfo: { workflow } } },
      });
      notify(`Queued prompt ${res.prompt_id.slice(0, 8)} (#${res.number}).`);
      applyControlModes(this.graph);
      this.save();
    } catch (e) {
      this.showNodeErrors(e.body?.node_errors);
      notify(`Queue failed: ${e.message}`, 'error');
    }
    this.jobs.refresh();
  }

  // showNodeErrors marks the nodes that failed validation and lists why.
  showNodeErrors(nodeErrors) {
    for (const [id, info] of Object.entries(nodeErrors ?? {})) {
      const text = (info.errors ?? []).map((e) => `${e.message}: ${e.details}`).join('\n');
      const node = this.graph.getNodeById(Number(id));
      if (node) node.exec = { ...node.exec, status: 'error', error: text };
      notify(`${info.class_type} #${id}: ${text}`, 'error');
    }
    this.graph.setDirtyCanvas(true, true);
  }

  node(id) {
    return id == null ? null : this.graph.getNodeById(Number(id)) ?? null;
  }

  setStatus(text, state) {
    const s = $('#run-status');
    s.textContent = text;
    s.dataset.state = state;
  }

  setNodeState(node, status, progress) {
    if (!node) return;
    node.exec = { ...node.exec, status };
    node.progress = status === 'running' ? progress : undefined;
    if (status === 'running') {
      this.running = node;
      const pct = progress ? ` ${Math.round(progress * 100)}%` : '';
      this.setStatus(`Running ${node.title} #${node.id}${pct}`, 'running');
    }
  }

  onMessage(type, d) {
    switch (type) {
      case 'status': {
        const n = d.status?.exec_info?.queue_remaining ?? 0;
        $('#queue-size').textContent = `Queue: ${n}`;
        this.jobs.refresh();
        break;
      }
      case 'execution_start':
        for (const node of this.graph.nodes) {
          node.exec = { images: node.exec?.images };
          node.progress = undefined;
        }
        this.setStatus('Started', 'running');
        break;
      case 'execution_cached':
        for (const id of d.nodes ?? []) this.setNodeState(this.node(id), 'cached');
        break;
      case 'executing':
        if (this.running?.exec?.status === 'running') this.setNodeState(this.running, 'done');
        if ((d.display_node ?? d.node) == null) this.running = null;
        else this.setNodeState(this.node(d.display_node ?? d.node), 'running', 0);
        break;
      case 'progress':
        if (d.max > 0) this.setNodeState(this.node(d.node), 'running', d.value / d.max);
        break;
      case 'progress_state':
        for (const p of Object.values(d.nodes ?? {})) {
          const node = this.node(p.display_node_id ?? p.node_id);
          if (p.state === 'running') this.setNodeState(node, 'running', p.max > 0 ? p.value / p.max : 0);
          else if (p.state === 'finished' && node?.exec?.status !== 'cached') this.setNodeState(node, 'done');
        }
        break;
      case 'executed': {
        const node = this.node(d.display_node ?? d.node);
        const images = d.output?.images ?? [];
        if (images.length) {
          if (node) setImages(node, images.map(viewURL));
          this.gallery.add(images, node ? `${node.title} #${node.id}` : undefined);
        }
        break;
      }
      case 'execution_error': {
        const node = this.node(d.node_id);
        const text = `${d.exception_type ? d.exception_type + ': ' : ''}${(d.exception_message ?? '').trim()}`;
        if (node) node.exec = { ...node.exec, status: 'error', error: text };
        this.setStatus(`Error in ${d.node_type} #${d.node_id}`, 'error');
        notify(`${d.node_type} #${d.node_id} failed: ${text}`, 'error');
        break;
      }
      case 'execution_interrupted':
        this.setStatus('Interrupted', 'interrupted');
        notify(`Prompt ${String(d.prompt_id).slice(0, 8)} was interrupted.`, 'warning');
        break;
      case 'execution_success':
        this.setStatus('Finished', 'success');
        this.jobs.refresh();
        break;
    }
    this.graph.setDirtyCanvas(true, false);
  }

  onPreview(blob, nodeId) {
    const node = nodeId != null ? this.node(nodeId) : this.running;
    if (!node) return;
    if (node.previewURL) URL.revokeObjectURL(node.previewURL);
    node.previewURL = URL.createObjectURL(blob);
    setImages(node, [node.previewURL]);
  }

  /** showJob puts a finished job's output images in the gallery and says how it ended. */
  showJob(job) {
    let count = 0;
    for (const [id, out] of Object.entries(job.outputs ?? {})) {
      const images = out?.images ?? [];
      count += images.length;
      this.gallery.add(images, `job ${job.id.slice(0, 8)} · #${id}`);
    }
    const err = job.execution_error;
    if (err) notify(`Job ${job.id.slice(0, 8)}: ${err.node_type} #${err.node_id} failed: ${err.exception_message}`, 'error');
    else notify(`Job ${job.id.slice(0, 8)}: ${job.status}, ${count} image(s).`);
    showTab('gallery');
  }

  async upload(widget) {
    const input = el('input', { type: 'file', accept: 'image/*' });
    input.addEventListener('change', async () => {
      const file = input.files?.[0];
      if (!file) return;
      try {
        const name = await uploadImage(file);
        if (!widget.options.values.includes(name)) widget.options.values.push(name);
        widget.value = name;
        this.graph.setDirtyCanvas(true, false);
        this.save();
      } catch (e) {
        notify(`Upload failed: ${e.message}`, 'error');
      }
    });
    input.click();
  }

  /** addNode adds a node of a class at the middle of the visible canvas. */
  addNode(type) {
    const node = LiteGraph.createNode(type);
    if (!node) return;
    const [cx, cy] = this.canvas.convertOffsetToCanvas([this.canvas.canvas.clientWidth / 2, this.canvas.canvas.clientHeight / 2]);
    node.pos = [cx - node.size[0] / 2, cy - node.size[1] / 2];
    this.graph.add(node);
    this.canvas.selectNode(node);
    $('#hint').hidden = true;
    this.save();
  }
}

/** searchNodes returns up to limit classes whose names, category or aliases contain every word of query. */
function searchNodes(defs, query, limit = 30) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const hits = [];
  for (const def of Object.values(defs)) {
    const hay = [def.name, def.display_name, def.category, ...(def.search_aliases ?? [])].join(' ').toLowerCase();
    if (words.every((w) => hay.includes(w))) hits.push(def);
    if (hits.length >= limit) break;
  }
  return hits;
}

function showTab(name) {
  for (const b of document.querySelectorAll('[data-tab]')) b.classList.toggle('active', b.dataset.tab === name);
  for (const p of document.querySelectorAll('.panel')) p.hidden = p.id !== `panel-${name}`;
}

function wireSearch(app) {
  const input = $('#node-search');
  const list = $('#search-results');
  const render = () => {
    const hits = searchNodes(app.defs, input.value);
    list.replaceChildren(...hits.map((def) => el('li', {
      'data-type': def.name,
      onmousedown: (ev) => {
        ev.preventDefault();
        app.addNode(def.name);
        input.value = '';
        list.replaceChildren();
      },
    }, el('b', {}, def.display_name || def.name), el('span', { class: 'muted' }, ` ${def.category ?? ''}`))));
    list.hidden = hits.length === 0;
  };
  input.addEventListener('input', render);
  input.addEventListener('blur', () => (list.hidden = true));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && list.firstChild) {
      app.addNode(list.firstChild.dataset.type);
      input.value = '';
      render();
    } else if (ev.key === 'Escape') {
      input.value = '';
      render();
    }
  });
}

function wireCanvasSize(app) {
  const wrap = $('#canvas-wrap');
  const resize = () => {
    app.canvas.resize(wrap.clientWidth, wrap.clientHeight);
    app.graph.setDirtyCanvas(true, true);
  };
  new ResizeObserver(resize).observe(wrap);
  resize();
}

async function main() {
  let defs;
  try {
    defs = await request('/object_info');
  } catch (e) {
    $('#hint').textContent = `Cannot load the node catalogue (/object_info): ${e.message}`;
    return;
  }
  const app = new App(defs);
  window.gocomfy = app; // for the console and the browser tests
  wireCanvasSize(app);
  wireSearch(app);
  $('#open-file').addEventListener('change', (ev) => {
    const file = ev.target.files?.[0];
    if (file) app.openFile(file);
    ev.target.value = '';
  });
  $('#queue-button').addEventListener('click', () => app.queue());
  $('#save-button').addEventListener('click', () => download('workflow.json', app.graph.serialize()));
  $('#export-button').addEventListener('click', () => download('workflow_api.json', app.prompt().prompt));
  $('#arrange-button').addEventListener('click', () => {
    arrangeGraph(app.graph);
    app.save();
  });
  $('#clear-button').addEventListener('click', () => {
    app.graph.clear();
    $('#hint').hidden = false;
    app.save();
  });
  for (const b of document.querySelectorAll('[data-tab]')) {
    b.addEventListener('click', () => {
      showTab(b.dataset.tab);
      if (b.dataset.tab === 'assets') loadAssets($('#assets'));
    });
  }
  document.addEventListener('dragover', (ev) => ev.preventDefault());
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    const file = ev.dataTransfer?.files?.[0];
    if (file) app.openFile(file);
  });
  addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) app.queue();
  });
  app.restore();
  $('#hint').hidden = app.graph.nodes.length > 0;
  app.jobs.refresh();
  document.body.dataset.ready = 'true';
}

main();
