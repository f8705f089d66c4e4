// Workflow formats. ComfyUI has two: the API format the server executes
// ({id: {class_type, inputs}}, links as [source id, output index]) and the
// UI format the editor saves (nodes with positions and widgets_values, links
// as a separate table). This module reads both and turns UI into API, using
// the node definitions of /object_info for the order of widget values.
// It has no DOM or litegraph dependency, so node's test runner covers it.

/** WIDGET_TYPES are the input types edited in place (a widget) rather than linked. */
export const WIDGET_TYPES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);

/** CONTROL_MODES are the values of the frontend's control_after_generate widget. */
export const CONTROL_MODES = ['fixed', 'increment', 'decrement', 'randomize'];

/**
 * Node types that exist only in ComfyUI's editor. They are never sent to the
 * server: reroutes and primitives are resolved into their targets, notes
 * dropped.
 */
const VIRTUAL_TYPES = new Set(['Reroute', 'PrimitiveNode', 'Note', 'MarkdownNote']);

const MODE_NEVER = 2; // muted: the node and its outputs are left out
const MODE_BYPASS = 4; // bypassed: its outputs pass its same-typed inputs through

/**
 * inputSpecs lists a node definition's visible inputs (required, then
 * optional, each in input_order when the server sends it) with what the
 * editor needs to know about each.
 *
 * @param {object} def an /object_info entry
 * @returns {{name: string, type: string, options: object, optional: boolean,
 *   widget: boolean, values?: unknown[], controlAfterGenerate: boolean, upload: boolean}[]}
 */
export function inputSpecs(def) {
  const out = [];
  for (const group of ['required', 'optional']) {
    const specs = def?.input?.[group] ?? {};
    const order = def?.input_order?.[group] ?? Object.keys(specs);
    for (const name of order) {
      const spec = specs[name];
      if (!Array.isArray(spec)) continue;
      out.push(describeInput(name, spec, group === 'optional'));
    }
  }
  return out;
}

function describeInput(name, spec, optional) {
  const [head, rawOptions] = spec;
  const options = rawOptions && typeof rawOptions === 'object' ? rawOptions : {};
  let type = head;
  let values;
  if (Array.isArray(head)) {
    type = 'COMBO';
    values = head;
  } else if (head === 'COMBO') {
    values = Array.isArray(options.options) ? options.options : [];
  }
  type = String(type);
  const widget = WIDGET_TYPES.has(type) && !options.forceInput;
  return {
    name,
    type,
    options,
    optional,
    widget,
    values,
    // The frontend adds its seed-control widget for this flag, and by name
    // for seeds of definitions older than the flag.
    controlAfterGenerate:
      widget && (!!options.control_after_generate || (type === 'INT' && (name === 'seed' || name === 'noise_seed'))),
    upload: widget && !!(options.image_upload || options.video_upload || options.audio_upload || options.animated_image_upload),
  };
}

/**
 * workflowKind tells which format a parsed JSON document is in.
 *
 * @returns {'ui'|'api'|null}
 */
export function workflowKind(doc) {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return null;
  if (Array.isArray(doc.nodes)) return 'ui';
  const entries = Object.values(doc);
  if (entries.length > 0 && entries.every((n) => n && typeof n === 'object' && typeof n.class_type === 'string')) {
    return 'api';
  }
  return null;
}

/**
 * readLinks normalises a UI workflow's link table: arrays
 * [id, origin_id, origin_slot, target_id, target_slot, type] (schema 0.4)
 * or objects with those keys (schema 1).
 *
 * @returns {Map<string, {origin: string, slot: number, target: string, targetSlot: number, type: string}>}
 */
function readLinks(links) {
  const out = new Map();
  for (const l of Array.isArray(links) ? links : []) {
    const o = Array.isArray(l)
      ? { id: l[0], origin_id: l[1], origin_slot: l[2], target_id: l[3], target_slot: l[4], type: l[5] }
      : l;
    if (!o || o.id == null) continue;
    out.set(String(o.id), {
      origin: String(o.origin_id),
      slot: Number(o.origin_slot),
      target: String(o.target_id),
      targetSlot: Number(o.target_slot),
      type: o.type,
    });
  }
  return out;
}

const PRIMITIVE = Symbol('primitive');

/**
 * uiToApi converts a UI-format workflow into the API prompt the server runs,
 * as ComfyUI's frontend does when it queues: widget values are matched to
 * the definition's widget inputs in order (skipping the seed-control and
 * upload values the frontend stores between them), links become
 * [source id, output index], muted nodes are dropped, bypassed nodes and
 * reroutes are looked through, and primitive nodes leave their value in the
 * widget they drive. Problems that do not stop the conversion are returned
 * as warnings; the server's validation reports the rest.
 *
 * @param {object} workflow a UI-format workflow
 * @param {Record<string, object>} defs the /object_info catalogue
 * @returns {{prompt: Record<string, {inputs: object, class_type: string, _meta: {title: string}}>, warnings: string[]}}
 */
export function uiToApi(workflow, defs) {
  const warnings = [];
  const nodes = new Map();
  for (const n of Array.isArray(workflow?.nodes) ? workflow.nodes : []) {
    if (n && n.id != null) nodes.set(String(n.id), n);
  }
  const links = readLinks(workflow?.links);
  if (workflow?.definitions?.subgraphs?.length) {
    warnings.push('This workflow uses subgraphs, which this page does not expand; their nodes are left out.');
  }

  // resolve follows a link source through reroutes and bypassed nodes to
  // the node output that really feeds it.
  const resolve = (originId, slot, seen = new Set()) => {
    const key = originId + ':' + slot;
    if (seen.has(key)) return null;
    seen.add(key);
    const src = nodes.get(originId);
    if (!src) return null;
    if (src.type === 'PrimitiveNode') return PRIMITIVE;
    if (src.mode === MODE_NEVER) return null;
    if (src.type === 'Reroute' || src.mode === MODE_BYPASS) {
      const input = passThroughInput(src, slot);
      const link = input && links.get(String(input.link));
      return link ? resolve(link.origin, link.slot, seen) : null;
    }
    return [originId, slot];
  };

  const prompt = {};
  for (const [id, n] of nodes) {
    if (VIRTUAL_TYPES.has(n.type) || n.mode === MODE_NEVER || n.mode === MODE_BYPASS) continue;
    const def = defs?.[n.type];
    if (!def) warnings.push(`Node #${id}: type "${n.type}" is not installed on this server.`);
    const inputs = def ? widgetInputs(n, inputSpecs(def)) : {};
    for (const input of Array.isArray(n.inputs) ? n.inputs : []) {
      if (input?.link == null) continue;
      const link = links.get(String(input.link));
      const source = link && resolve(link.origin, link.slot);
      if (source === PRIMITIVE) continue; // the widget holds the primitive's value
      if (source) inputs[input.name] = source;
      else delete inputs[input.name];
    }
    prompt[id] = { inputs, class_type: n.type, _meta: { title: n.title ?? def?.display_name ?? n.type } };
  }
  return { prompt, warnings };
}

/**
 * passThroughInput picks the input a reroute or bypassed node passes to its
 * output slot: the input at the same index if its type matches, else the
 * first linked input of that type (ComfyUI's bypass rule).
 */
function passThroughInput(node, slot) {
  const inputs = Array.isArray(node.inputs) ? node.inputs : [];
  if (node.type === 'Reroute') return inputs[0];
  const type = node.outputs?.[slot]?.type;
  const same = inputs[slot];
  if (same?.link != null && (type === undefined || same.type === type || same.type === '*')) return same;
  return inputs.find((i) => i?.link != null && i.type === type);
}

/** widgetInputs maps a UI node's widgets_values to the definition's widget inputs. */
function widgetInputs(node, specs) {
  const inputs = {};
  const values = node.widgets_values;
  const widgets = specs.filter((s) => s.widget);
  if (Array.isArray(values)) {
    let at = 0;
    for (const [i, spec] of widgets.entries()) {
      if (at >= values.length) break;
      inputs[spec.name] = values[at++];
      // Values the frontend keeps after a widget, which are not inputs: the
      // seed control mode, and the upload button's label. They are skipped
      // only when there are more values left than widgets.
      const extra = values.length - at > widgets.length - i - 1;
      if (extra && spec.controlAfterGenerate && CONTROL_MODES.includes(values[at])) at++;
      else if (extra && spec.upload && typeof values[at] === 'string') at++;
    }
  } else if (values && typeof values === 'object') {
    for (const spec of widgets) {
      if (spec.name in values) inputs[spec.name] = values[spec.name];
    }
  }
  return inputs;
}

/**
 * isLink reports whether an API-format input value is a link
 * [source node id, output index].
 */
export function isLink(v) {
  return Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number') && Number.isInteger(v[1]);
}

/**
 * layoutColumns places an API prompt's nodes in columns by their distance
 * from the sources (nodes with no linked inputs), so that every link points
 * right. Nodes in a cycle, or linked to unknown ids, count as sources.
 *
 * @returns {string[][]} node ids per column, in prompt order within a column
 */
export function layoutColumns(prompt) {
  const depth = new Map();
  const visiting = new Set();
  const depthOf = (id) => {
    if (depth.has(id)) return depth.get(id);
    if (visiting.has(id) || !(id in prompt)) return -1;
    visiting.add(id);
    let d = 0;
    for (const v of Object.values(prompt[id]?.inputs ?? {})) {
      if (isLink(v)) d = Math.max(d, depthOf(String(v[0])) + 1);
    }
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  const columns = [];
  for (const id of Object.keys(prompt)) {
    const d = depthOf(id);
    (columns[d] ??= []).push(id);
  }
  return columns.filter(Boolean);
}

/** MAX_SAFE_SEED bounds randomized seeds to integers JSON and JavaScript agree on. */
const MAX_SAFE_SEED = 2 ** 50;

/**
 * nextValue is a widget's value after a queue under its control mode
 * (ComfyUI's control_after_generate): fixed keeps it, increment and
 * decrement step it within [min, max], randomize draws a new one.
 *
 * @param {number} value
 * @param {string} mode one of CONTROL_MODES
 * @param {{min?: number, max?: number, step?: number}} options
 * @param {() => number} [random] Math.random by default
 */
export function nextValue(value, mode, options = {}, random = Math.random) {
  const min = Number.isFinite(options.min) ? options.min : 0;
  const max = Math.min(Number.isFinite(options.max) ? options.max : MAX_SAFE_SEED, MAX_SAFE_SEED);
  const step = options.step > 0 ? options.step : 1;
  switch (mode) {
    case 'increment':
      return Math.min(value + step, max);
    case 'decrement':
      return Math.max(value - step, min);
    case 'randomize':
      return min + Math.floor(random() * (Math.floor((max - min) / step) + 1)) * step;
  }
  return value;
}
