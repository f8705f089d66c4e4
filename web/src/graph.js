// The graph editor: litegraph node classes made from /object_info, loading
// workflows into the canvas, and drawing each node's execution state
// (running outline, progress bar, error, output images).

import { LGraphNode, LiteGraph, RenderShape } from '@comfyorg/litegraph';
import { CONTROL_MODES, inputSpecs, isLink, layoutColumns, nextValue } from './workflow.js';

const MIN_NODE_WIDTH = 240;
const IMAGE_AREA = 240; // height given to output images under a node's widgets

/**
 * registerNodeTypes makes a litegraph node type for every /object_info
 * class, so the canvas's search box, its "Add Node" menu and loading UI
 * workflows all know them.
 *
 * @param {Record<string, object>} defs
 * @param {{onChange: () => void, onUpload: (node: LGraphNode, widget: object) => void}} hooks
 */
export function registerNodeTypes(defs, hooks) {
  for (const def of Object.values(defs)) {
    if (!def?.name) continue;
    const cls = nodeClass(def, hooks);
    LiteGraph.registerNodeType(def.name, cls);
    cls.category = def.category ?? ''; // registerNodeType derives it from "/" in the name, which Comfy names lack
  }
}

function nodeClass(def, hooks) {
  const specs = inputSpecs(def);
  return class ComfyNode extends LGraphNode {
    static title = def.display_name || def.name;

    constructor(title) {
      super(title ?? def.display_name ?? def.name);
      this.serialize_widgets = true;
      for (const spec of specs) {
        if (spec.widget) addWidget(this, spec, hooks);
        else this.addInput(spec.name, spec.type);
      }
      (def.output ?? []).forEach((type, i) => {
        const extra = def.output_is_list?.[i] ? { shape: RenderShape.GRID } : undefined;
        this.addOutput(def.output_name?.[i] ?? type, type, extra);
      });
      if (def.output_node) this.color = '#335';
      const size = this.computeSize();
      this.size = [Math.max(size[0], MIN_NODE_WIDTH), size[1]];
    }

    onDrawForeground(ctx) {
      drawState(this, ctx);
    }
  };
}

/** decimals is the number of decimals a step such as 0.01 shows. */
function decimals(step) {
  const s = String(step);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : Math.min(s.length - dot - 1, 10);
}

// addWidget adds the editor for one widget input, plus an input slot at its
// row so a link can drive it instead (as ComfyUI's frontend does), plus the
// seed-control and upload widgets the frontend keeps after some inputs.
function addWidget(node, spec, hooks) {
  const o = spec.options;
  const changed = () => hooks.onChange();
  let w;
  switch (spec.type) {
    case 'INT':
      w = node.addWidget('number', spec.name, o.default ?? Math.max(o.min ?? 0, 0), (v) => {
        w.value = Math.round(v);
        changed();
      }, { min: o.min, max: o.max, step2: o.step ?? 1, precision: 0 });
      break;
    case 'FLOAT': {
      const precision = decimals(o.round || o.step || 0.01);
      w = node.addWidget('number', spec.name, o.default ?? Math.max(o.min ?? 0, 0), (v) => {
        w.value = Number(v.toFixed(precision));
        changed();
      }, { min: o.min, max: o.max, step2: o.step ?? 0.01, precision });
      break;
    }
    case 'BOOLEAN':
      w = node.addWidget('toggle', spec.name, o.default ?? false, changed, { on: o.label_on, off: o.label_off });
      break;
    case 'COMBO':
      w = node.addWidget('combo', spec.name, o.default ?? spec.values[0] ?? '', changed, { values: spec.values });
      break;
    default: // STRING
      w = node.addWidget('text', spec.name, o.default ?? '', changed, { multiline: !!o.multiline });
  }
  if (o.tooltip) w.tooltip = o.tooltip;
  node.addInput(spec.name, spec.type, { widget: { name: spec.name } });
  if (spec.controlAfterGenerate) {
    const control = node.addWidget('combo', 'control_after_generate', 'randomize', changed, { values: CONTROL_MODES });
    control.controls = w;
  }
  if (spec.upload) node.addWidget('button', 'upload', 'image', () => hooks.onUpload(node, w), {});
}

/**
 * applyControlModes steps every widget that has a control_after_generate
 * widget after it, once a prompt was queued.
 */
export function applyControlModes(graph) {
  for (const node of graph.nodes) {
    for (const c of node.widgets ?? []) {
      if (c.controls) c.controls.value = nextValue(Number(c.controls.value), c.value, c.controls.options);
    }
  }
  graph.setDirtyCanvas(true, true);
}

/**
 * loadApiPrompt replaces the graph with an API-format prompt: one node per
 * entry (a red placeholder for unknown classes), widget values set, links
 * connected, laid out left to right by depth.
 */
export function loadApiPrompt(graph, prompt) {
  graph.clear();
  const numeric = Object.keys(prompt).every((id) => /^[1-9]\d*$/.test(id));
  const byId = new Map();
  const outputsUsed = new Map(); // node id → how many of its outputs are linked from
  for (const entry of Object.values(prompt)) {
    for (const v of Object.values(entry.inputs ?? {})) {
      if (isLink(v)) outputsUsed.set(String(v[0]), Math.max(outputsUsed.get(String(v[0])) ?? 0, v[1] + 1));
    }
  }
  let next = 1;
  for (const [id, entry] of Object.entries(prompt)) {
    const node = LiteGraph.createNode(entry.class_type) ?? placeholder(entry, outputsUsed.get(id) ?? 0);
    node.id = numeric ? Number(id) : next++;
    if (entry._meta?.title) node.title = entry._meta.title;
    for (const [name, v] of Object.entries(entry.inputs ?? {})) {
      const w = node.widgets?.find((w) => w.name === name);
      if (w && !isLink(v)) w.value = v;
    }
    graph.add(node);
    byId.set(id, node);
  }
  for (const [id, entry] of Object.entries(prompt)) {
    const node = byId.get(id);
    for (const [name, v] of Object.entries(entry.inputs ?? {})) {
      const src = isLink(v) && byId.get(String(v[0]));
      const slot = node.findInputSlot(name);
      if (src && slot >= 0 && v[1] < (src.outputs?.length ?? 0)) src.connect(v[1], node, slot);
    }
  }
  arrangeGraph(graph);
}

/**
 * arrangeGraph lays the graph out left to right: each node in a column
 * right of every node it takes input from, columns stacked top to bottom.
 */
export function arrangeGraph(graph) {
  const byId = new Map(graph.nodes.map((n) => [String(n.id), n]));
  const sources = {}; // the links as an API prompt's, which layoutColumns reads
  for (const [id, node] of byId) {
    const inputs = {};
    for (const [i, input] of (node.inputs ?? []).entries()) {
      const link = input.link != null && graph.links.get(input.link);
      if (link) inputs[i] = [String(link.origin_id), link.origin_slot];
    }
    sources[id] = { inputs };
  }
  arrange(layoutColumns(sources).map((col) => col.map((id) => byId.get(id))));
  graph.setDirtyCanvas(true, true);
}

// placeholder stands for a node class the server does not have: its links
// are kept (outputs is how many output slots other nodes use) so the graph
// still reads, and it is drawn in red.
function placeholder(entry, outputs) {
  const node = new LGraphNode(entry._meta?.title ?? entry.class_type);
  node.type = entry.class_type;
  node.has_errors = true;
  for (const [name, v] of Object.entries(entry.inputs ?? {})) {
    if (isLink(v)) node.addInput(name, '*');
  }
  for (let i = 0; i < outputs; i++) node.addOutput(String(i), '*');
  node.color = node.bgcolor = '#622';
  node.size = [MIN_NODE_WIDTH, node.computeSize()[1]];
  return node;
}

// arrange places columns of nodes left to right, each column stacked top to bottom.
function arrange(columns) {
  let x = 40;
  for (const col of columns) {
    let y = 60;
    let width = 0;
    for (const node of col) {
      node.pos = [x, y];
      y += node.size[1] + LiteGraph.NODE_TITLE_HEIGHT + 40;
      width = Math.max(width, node.size[0]);
    }
    x += width + 80;
  }
}

/**
 * ExecState is what the page knows of a node while a prompt runs.
 * @typedef {{status?: 'running'|'done'|'cached'|'error', error?: string, images?: HTMLImageElement[]}} ExecState
 */

/** setImages shows images (URLs) under a node, growing it to make room. */
export function setImages(node, urls) {
  node.exec ??= {};
  node.exec.images = urls.map((url) => {
    const img = new Image();
    img.onload = () => node.setDirtyCanvas(true, false);
    img.src = url;
    return img;
  });
  const top = contentBottom(node);
  if (node.size[1] < top + IMAGE_AREA) node.setSize([Math.max(node.size[0], 256), top + IMAGE_AREA]);
}

// contentBottom is the y (node-local, below the title) where slots and
// widgets end and images may be drawn.
function contentBottom(node) {
  const last = node.widgets?.at(-1);
  if (last) return last.y + (last.computedHeight ?? LiteGraph.NODE_WIDGET_HEIGHT) + 6;
  const rows = Math.max(node.inputs?.length ?? 0, node.outputs?.length ?? 0, 1);
  return rows * LiteGraph.NODE_SLOT_HEIGHT + 10;
}

const STATE_COLORS = { running: '#3c3', error: '#e33', cached: '#888' };

function drawState(node, ctx) {
  const s = node.exec;
  if (!s) return;
  const color = STATE_COLORS[s.status];
  if (color) {
    const t = LiteGraph.NODE_TITLE_HEIGHT;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = s.status === 'cached' ? 1 : 3;
    ctx.strokeRect(-3, -t - 3, node.size[0] + 6, node.size[1] + t + 6);
    ctx.restore();
  }
  const images = s.images?.filter((img) => img.complete && img.naturalWidth > 0) ?? [];
  if (images.length > 0) {
    const top = contentBottom(node);
    const area = [node.size[0] - 12, node.size[1] - top - 6];
    // Several images share the area in a grid, as in ComfyUI's preview;
    // each is centred across its cell and put at the cell's top.
    const cols = Math.ceil(Math.sqrt(images.length));
    const rows = Math.ceil(images.length / cols);
    const cw = area[0] / cols;
    const ch = area[1] / rows;
    images.forEach((img, i) => {
      const scale = Math.min(cw / img.naturalWidth, ch / img.naturalHeight);
      const w = img.naturalWidth * scale;
      const h = img.naturalHeight * scale;
      const x = 6 + (i % cols) * cw + (cw - w) / 2;
      const y = top + Math.floor(i / cols) * ch;
      ctx.drawImage(img, x, y, w, h);
    });
  }
  if (s.status === 'error' && s.error) {
    ctx.save();
    ctx.fillStyle = '#f66';
    ctx.font = '12px sans-serif';
    ctx.fillText(s.error.split('\n')[0].slice(0, 60), 0, node.size[1] + 16);
    ctx.restore();
  }
}
