import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inputSpecs, isLink, layoutColumns, nextValue, uiToApi, workflowKind } from '../src/workflow.js';

const load = (name) => JSON.parse(readFileSync(new URL(`testdata/${name}`, import.meta.url), 'utf8'));
const defs = load('defs.json');

test('uiToApi converts a UI workflow as the frontend queues it', () => {
  const { prompt, warnings } = uiToApi(load('ui-workflow.json'), defs);
  assert.deepEqual(prompt, load('ui-workflow.api.json'));
  assert.deepEqual(warnings, []);
});

test('uiToApi reads schema-1 link objects and dict widget values', () => {
  const wf = {
    nodes: [
      { id: 1, type: 'EmptyLatentImage', mode: 0, widgets_values: { width: 64, height: 32, batch_size: 2 } },
      { id: 2, type: 'KSampler', mode: 0, inputs: [{ name: 'latent_image', link: 7 }], widgets_values: [5, 10, 7.5, 'euler', 'normal', 0.5] },
    ],
    links: [{ id: 7, origin_id: 1, origin_slot: 0, target_id: 2, target_slot: 0, type: 'LATENT' }],
  };
  const { prompt } = uiToApi(wf, defs);
  assert.deepEqual(prompt['1'].inputs, { width: 64, height: 32, batch_size: 2 });
  // No control value stored: nothing is skipped.
  assert.deepEqual(prompt['2'].inputs, {
    seed: 5, steps: 10, cfg: 7.5, sampler_name: 'euler', scheduler: 'normal', denoise: 0.5, latent_image: ['1', 0],
  });
});

test('uiToApi warns about unknown types and subgraphs', () => {
  const wf = { nodes: [{ id: 1, type: 'Mystery', mode: 0, inputs: [] }], links: [], definitions: { subgraphs: [{}] } };
  const { prompt, warnings } = uiToApi(wf, defs);
  assert.deepEqual(prompt, { 1: { inputs: {}, class_type: 'Mystery', _meta: { title: 'Mystery' } } });
  assert.equal(warnings.length, 2);
});

test('uiToApi survives junk', () => {
  for (const wf of [null, {}, { nodes: 'x' }, { nodes: [null, { id: 1 }], links: [null, [1]] }]) {
    assert.equal(typeof uiToApi(wf, defs).prompt, 'object');
  }
  // A reroute loop resolves to nothing instead of recursing forever.
  const loop = {
    nodes: [
      { id: 1, type: 'Reroute', inputs: [{ link: 2 }], outputs: [{ links: [1] }] },
      { id: 2, type: 'Reroute', inputs: [{ link: 1 }], outputs: [{ links: [2, 3] }] },
      { id: 3, type: 'VAEDecode', inputs: [{ name: 'vae', link: 3 }] },
    ],
    links: [[1, 1, 0, 2, 0, '*'], [2, 2, 0, 1, 0, '*'], [3, 2, 0, 3, 0, 'VAE']],
  };
  assert.deepEqual(uiToApi(loop, defs).prompt['3'].inputs, {});
});

test('inputSpecs', () => {
  const specs = inputSpecs(defs.KSampler);
  assert.deepEqual(specs.map((s) => s.name), ['model', 'seed', 'steps', 'cfg', 'sampler_name', 'scheduler', 'positive', 'negative', 'latent_image', 'denoise']);
  const by = Object.fromEntries(specs.map((s) => [s.name, s]));
  assert.equal(by.model.widget, false);
  assert.equal(by.seed.controlAfterGenerate, true);
  assert.equal(by.steps.controlAfterGenerate, false);
  assert.deepEqual(by.scheduler.values, ['normal', 'karras']);
  assert.equal(by.scheduler.type, 'COMBO');
  assert.equal(inputSpecs(defs.LoadImage)[0].upload, true);
  const save = inputSpecs(defs.SaveImage);
  assert.deepEqual(save.map((s) => [s.name, s.widget, s.optional]), [['images', false, false], ['filename_prefix', true, false], ['scale', false, true]]);
  assert.deepEqual(inputSpecs(undefined), []);
});

test('workflowKind', () => {
  const cases = [
    [load('ui-workflow.json'), 'ui'],
    [load('ui-workflow.api.json'), 'api'],
    [{}, null],
    [[], null],
    ['x', null],
    [{ 1: { inputs: {} } }, null],
  ];
  for (const [doc, want] of cases) assert.equal(workflowKind(doc), want);
});

test('isLink', () => {
  assert.equal(isLink(['4', 0]), true);
  assert.equal(isLink([4, 1]), true);
  assert.equal(isLink(['4', 0.5]), false);
  assert.equal(isLink([1, 2, 3]), false);
  assert.equal(isLink('4'), false);
});

test('layoutColumns puts each node right of its sources', () => {
  const prompt = load('ui-workflow.api.json');
  assert.deepEqual(layoutColumns(prompt), [['4', '5', '14'], ['6', '7'], ['3'], ['8'], ['9']]);
  const cycle = { a: { inputs: { x: ['b', 0] } }, b: { inputs: { x: ['a', 0] } }, c: { inputs: { x: ['zzz', 0] } } };
  assert.deepEqual(layoutColumns(cycle).flat().sort(), ['a', 'b', 'c']);
});

test('nextValue', () => {
  const opts = { min: 0, max: 10, step: 2 };
  assert.equal(nextValue(4, 'fixed', opts), 4);
  assert.equal(nextValue(4, 'increment', opts), 6);
  assert.equal(nextValue(10, 'increment', opts), 10);
  assert.equal(nextValue(1, 'decrement', opts), 0);
  assert.equal(nextValue(4, 'randomize', opts, () => 0), 0);
  assert.equal(nextValue(4, 'randomize', opts, () => 0.9999), 10);
  const big = nextValue(0, 'randomize', { min: 0, max: 18446744073709551615 }, () => 0.9999999);
  assert.ok(Number.isSafeInteger(big));
});
