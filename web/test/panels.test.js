import assert from 'node:assert/strict';
import { test } from 'node:test';

// api.js reads the page's location when it loads.
globalThis.location ??= { pathname: '/', protocol: 'http:', host: 'localhost' };
const { JobsPanel } = await import('../src/panels.js');

test('JobsPanel.refresh folds calls made during a load into one more load', async () => {
  const panel = new JobsPanel(null, {});
  let loads = 0;
  panel.load = async () => {
    loads++;
    await new Promise((r) => setTimeout(r, 1));
  };
  await panel.refresh();
  assert.equal(loads, 1);

  const first = panel.refresh();
  const second = panel.refresh(); // say, a cancel answered while the list was loading
  panel.refresh();
  assert.equal(second, first);
  await first;
  assert.equal(loads, 3, 'the calls made during the load must cause exactly one more');
  assert.equal(panel.pending, null);

  await panel.refresh();
  assert.equal(loads, 4);
});
