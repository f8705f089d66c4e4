// Browser tests of the page at /: Playwright (playwright-core) drives the
// system's Chromium against a real gocomfy started with --enable-test-nodes
// on a free loopback port and a temporary base directory.
//
//   GOCOMFY_BIN    the gocomfy binary (e2e.sh builds it)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   COMFYUI_FRONTEND_DIR  a built ComfyUI_frontend dist/; the official-frontend
//                  case is skipped without it
//
// Screenshots go to web/test-results/. The last line is "N passed, N failed, N skipped".

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, launchBrowser, startServer as start } from './harness.mjs';

const BIN = process.env.GOCOMFY_BIN;
const FRONTEND = process.env.COMFYUI_FRONTEND_DIR ?? '';
const RESULTS = new URL('../test-results/', import.meta.url).pathname;
const TIMEOUT = 20_000;

const results = { passed: 0, failed: 0, skipped: 0 };

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

function skip(name, why) {
  results.skipped++;
  console.log(`skip ${name}: ${why}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** startServer runs the gocomfy under test with the test nodes. */
const startServer = (extraArgs = []) => start(BIN, ['--enable-test-nodes', ...extraArgs]);

/**
 * screenPoint turns a point in graph coordinates into page coordinates,
 * through the canvas's pan and zoom.
 */
async function screenPoint(page, [x, y]) {
  return page.evaluate(([x, y]) => {
    const { canvas, ds } = window.gocomfy.canvas;
    const r = canvas.getBoundingClientRect();
    return [r.left + (x + ds.offset[0]) * ds.scale, r.top + (y + ds.offset[1]) * ds.scale];
  }, [x, y]);
}

/** drag moves the mouse with the button down from one graph point to another. */
async function drag(page, from, to) {
  const [a, b] = [await screenPoint(page, from), await screenPoint(page, to)];
  await page.mouse.move(...a);
  await page.mouse.down();
  await page.mouse.move(...b, { steps: 8 });
  await page.mouse.up();
}

/** slotPos is where a node's input or output slot is, in graph coordinates. */
const slotPos = (page, id, isInput, slot) =>
  page.evaluate(([id, isInput, slot]) => window.gocomfy.graph.getNodeById(id).getConnectionPos(isInput, slot), [id, isInput, slot]);

/** jsonFile is a file for an <input type=file>. */
const jsonFile = (name, doc) => ({ name, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });

// The test workflow: a noise image, a node that sleeps while reporting
// progress, and an output node that saves it.
function testPrompt(outputNode, seconds) {
  return {
    1: { class_type: 'StubImage', inputs: { content: 'NOISE', height: 96, width: 128, batch_size: 1 }, _meta: { title: 'Stub Image' } },
    2: { class_type: 'TestSleep', inputs: { value: ['1', 0], seconds }, _meta: { title: 'Sleep' } },
    3: { class_type: outputNode, inputs: { images: ['2', 0], ...(outputNode === 'SaveImage' ? { filename_prefix: 'e2e' } : {}) } },
  };
}

async function ownPage(browser, defs) {
  const server = await startServer();
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload === 'string' && frames.push(JSON.parse(f.payload))));
  const output = ['SaveImage', 'PreviewImage'].find((c) => c in defs);
  const nodeCount = () => page.evaluate(() => window.gocomfy.graph.nodes.length);
  try {
    await step('page loads with the node catalogue and a socket', async () => {
      const res = await page.goto(server.url + '/');
      assert(res.ok(), `GET / answered ${res.status()}`);
      assert(/no-store/.test(res.headers()['cache-control'] ?? ''), 'index.html must not be cached');
      await page.waitForSelector('body[data-ready="true"]', { timeout: TIMEOUT });
      await page.waitForSelector('#connection[data-state="connected"]', { timeout: TIMEOUT });
      const types = await page.evaluate(() => Object.keys(window.gocomfy.defs).length);
      assert(types === Object.keys(defs).length, `page knows ${types} node types, server has ${Object.keys(defs).length}`);
      assert(await page.isVisible('#hint'), 'the empty canvas shows no hint');
      await page.screenshot({ path: join(RESULTS, 'own-page-empty.png') });
    });

    if (!output) {
      skip('queue a workflow and see its output image', 'the server registers neither SaveImage nor PreviewImage');
    } else {
      await step(`open an API-format workflow (StubImage → TestSleep → ${output})`, async () => {
        await page.setInputFiles('#open-file', jsonFile('e2e_api.json', testPrompt(output, 1.5)));
        await page.waitForFunction(() => window.gocomfy.graph.nodes.length === 3, null, { timeout: TIMEOUT });
        const links = await page.evaluate(() => window.gocomfy.graph.links.size);
        assert(links === 2, `want 2 links, got ${links}`);
      });

      await step('edit with the mouse: step a number widget, disconnect and reconnect a link', async () => {
        const arrow = await page.evaluate(() => {
          const n = window.gocomfy.graph.getNodeById(1);
          const w = n.widgets.find((w) => w.name === 'height');
          return [n.pos[0] + n.size[0] - 22, n.pos[1] + w.y + 10];
        });
        await page.mouse.click(...(await screenPoint(page, arrow)));
        const height = await page.evaluate(() => window.gocomfy.graph.getNodeById(1).widgets.find((w) => w.name === 'height').value);
        assert(height === 97, `height after a click on its right arrow is ${height}, want 97`);
        const links = () => page.evaluate(() => window.gocomfy.graph.links.size);
        const input = await slotPos(page, 3, true, 0);
        await drag(page, input, [input[0] - 60, input[1] + 250]); // pull the link off into empty canvas
        await page.keyboard.press('Escape'); // close the search box litegraph opens there
        assert((await links()) === 1, `after pulling the link off: ${await links()} links`);
        await drag(page, await slotPos(page, 2, false, 0), input);
        assert((await links()) === 2, `after reconnecting: ${await links()} links`);
      });

      await step('change a widget value and add a node from the search box', async () => {
        await page.evaluate(() => {
          const w = window.gocomfy.graph.getNodeById(1).widgets.find((w) => w.name === 'width');
          w.value = 160;
        });
        await page.fill('#node-search', 'stub int');
        await page.click('#search-results li[data-type="StubInt"]');
        assert((await nodeCount()) === 4, 'the StubInt node was not added');
        const prompt = await page.evaluate(() => window.gocomfy.prompt().prompt);
        assert(prompt['1'].inputs.width === 160, `width in the prompt is ${prompt['1'].inputs.width}`);
        assert(JSON.stringify(prompt['2'].inputs.value) === '["1",0]', 'the link 1→2 is not in the prompt');
      });

      await step('queue it, watch progress over /ws, see the output image', async () => {
        // Record the progress the page gives each node: on a loaded machine
        // the browser may handle all of a short run's messages between two
        // polls of the test, so the bar itself can be gone by then.
        await page.evaluate(() => {
          const app = window.gocomfy;
          const set = app.setNodeState.bind(app);
          window.maxProgress = {};
          app.setNodeState = (node, status, progress) => {
            set(node, status, progress);
            if (node && progress > (window.maxProgress[node.id] ?? 0)) window.maxProgress[node.id] = progress;
          };
        });
        await page.click('#queue-button');
        await page.waitForFunction(() => window.maxProgress[2] > 0.2, null, { timeout: TIMEOUT });
        await page.screenshot({ path: join(RESULTS, 'own-page-progress.png') });
        await page.waitForSelector('#run-status[data-state="success"]', { timeout: TIMEOUT });
        await page.click('[data-tab="gallery"]');
        await page.waitForFunction(() => [...document.querySelectorAll('#gallery img')].some((i) => i.complete && i.naturalWidth === 160), null, { timeout: TIMEOUT });
        const types = new Set(frames.map((f) => f.type));
        for (const t of ['execution_start', 'executing', 'progress', 'executed', 'execution_success']) {
          assert(types.has(t), `no ${t} message arrived over /ws`);
        }
        await page.click('[data-tab="queue"]');
        await page.waitForSelector('#jobs .job-completed', { timeout: TIMEOUT });
        await page.screenshot({ path: join(RESULTS, 'own-page-done.png') });
      });

      await step('a PNG made by the server reopens its workflow', async () => {
        const src = await page.getAttribute('#gallery img', 'src');
        const png = Buffer.from(await (await fetch(new URL(src, server.url))).arrayBuffer());
        await page.click('#clear-button');
        assert((await nodeCount()) === 0, 'clear left nodes');
        await page.setInputFiles('#open-file', { name: 'output.png', mimeType: 'image/png', buffer: png });
        await page.waitForFunction(() => window.gocomfy.graph.nodes.length === 4, null, { timeout: TIMEOUT });
        const width = await page.evaluate(() => window.gocomfy.graph.getNodeById(1).widgets.find((w) => w.name === 'width').value);
        assert(width === 160, `the reopened workflow has width ${width}`);
      });

      await step('a failing node shows its error', async () => {
        const prompt = testPrompt(output, 0);
        prompt[2] = { class_type: 'TestSyncError', inputs: { value: ['1', 0] } };
        await page.setInputFiles('#open-file', jsonFile('error_api.json', prompt));
        await page.waitForFunction(() => window.gocomfy.graph.nodes.length === 3, null, { timeout: TIMEOUT });
        await page.click('#queue-button');
        await page.waitForSelector('#run-status[data-state="error"]', { timeout: TIMEOUT });
        const alert = await page.textContent('.message-error');
        assert(/Intentional sync execution error/.test(alert), `error message shown: ${alert}`);
        const state = await page.evaluate(() => window.gocomfy.graph.getNodeById(2).exec?.status);
        assert(state === 'error', `node 2 state is ${state}`);
        await page.screenshot({ path: join(RESULTS, 'own-page-error.png') });
        await page.click('#jobs .job-failed', { timeout: TIMEOUT });
        await page.locator('.message-error').first().waitFor({ timeout: TIMEOUT });
      });

      await step('an invalid widget value is reported by validation', async () => {
        await page.evaluate(() => document.querySelectorAll('.message').forEach((m) => m.remove()));
        const prompt = testPrompt(output, 0);
        prompt[1].inputs.content = 'PURPLE';
        await page.setInputFiles('#open-file', jsonFile('invalid_api.json', prompt));
        await page.click('#queue-button');
        // The previous step's failed job may still post its own error
        // message: wait for the one about this prompt.
        const message = page.locator('.message-error', { hasText: 'PURPLE' }).first();
        await message.waitFor({ timeout: TIMEOUT });
        const text = await message.textContent();
        assert(/StubImage #1/.test(text) && /PURPLE/.test(text), `validation message: ${text}`);
      });

      await step('a running job can be cancelled from the queue panel', async () => {
        await page.setInputFiles('#open-file', jsonFile('long_api.json', testPrompt(output, 60)));
        await page.click('#queue-button');
        await page.click('[data-tab="queue"]');
        const active = page.locator('#jobs .job-in_progress button, #jobs .job-pending button').first();
        await active.click({ timeout: TIMEOUT });
        await page.waitForSelector('#jobs .job-cancelled', { timeout: TIMEOUT });
      });

      await step('a UI-format workflow opens and queues', async () => {
        const ui = await page.evaluate((p) => {
          // The page's own UI serialization of an API prompt, as ComfyUI would save it.
          window.gocomfy.open(p, 'api');
          return window.gocomfy.graph.serialize();
        }, testPrompt(output, 0.2));
        ui.nodes.find((n) => n.id === 1).widgets_values[1] = 48; // height
        await page.click('#clear-button');
        await page.setInputFiles('#open-file', jsonFile('e2e_ui.json', ui));
        await page.waitForFunction(() => window.gocomfy.graph.nodes.length === 3, null, { timeout: TIMEOUT });
        const before = await page.locator('#jobs .job-completed').count();
        await page.click('#queue-button');
        await page.waitForFunction((n) => document.querySelectorAll('#jobs .job-completed').length > n, before, { timeout: TIMEOUT });
        const prompt = await page.evaluate(() => window.gocomfy.prompt().prompt);
        assert(prompt['1'].inputs.height === 48, `height ${prompt['1'].inputs.height}`);
      });
    }

    await step('a ComfyUI workflow with nodes this server lacks opens, with a warning', async () => {
      const ui = JSON.parse(readFileSync(new URL('../test/testdata/ui-workflow.json', import.meta.url), 'utf8'));
      await page.setInputFiles('#open-file', jsonFile('comfyui_ui.json', ui));
      await page.waitForFunction((n) => window.gocomfy.graph.nodes.length === n, ui.nodes.length, { timeout: TIMEOUT });
      const warning = await page.textContent('.message-warning >> nth=-1');
      assert(/Not installed on this server: .*KSampler/.test(warning), `warning: ${warning}`);
      await page.screenshot({ path: join(RESULTS, 'own-page-foreign-workflow.png') });
    });

    await step('the assets tab answers (a list, or why there is none)', async () => {
      await page.click('[data-tab="assets"]');
      await page.waitForFunction(() => !/Loading/.test(document.querySelector('#assets').textContent), null, { timeout: TIMEOUT });
      await page.screenshot({ path: join(RESULTS, 'own-page-assets.png') });
    });

    await step('no script errors on the page', async () => {
      const real = consoleErrors.filter((e) => !/status of 40[04]|Failed to load resource/.test(e));
      assert(real.length === 0, real.join('\n'));
    });
  } finally {
    await page.close();
    if (results.failed) console.log(server.log());
    await server.stop();
  }
}

// expectedMisses are the 4xx answers the official frontend gets at start-up
// from ComfyUI v0.27 too, on a fresh install: files and folders it probes
// for that do not exist yet.
const expectedMisses = [
  /^GET \/user\.css 404$/, // the frontend package ships none
  /^GET \/api\/userdata\/user\.css 404$/,
  /^GET \/api\/userdata\/comfy\.templates\.json 404$/,
  /^GET \/api\/userdata\?dir=(workflows|subgraphs)&.* 404$/, // the folder is made by the first save
];

// frontendNoise are console errors of the frontend itself, whatever the
// server answers: loads that failed (each is checked by status above or is
// outside loopback, which the test blocks), the stylesheet refused for the
// missing user.css, and a race in its own start-up.
const frontendNoise = [
  /^Failed to load resource/,
  /Refused to apply style from .*\/user\.css/,
  /^ComfyApp graph accessed before initialization/,
];

// officialFrontend runs a built ComfyUI frontend served with
// --front-end-root: it loads with every call answered as ComfyUI answers
// it, its template browser shows templates (gocomfy's, which it opens and
// runs, for frontends that read /templates/index.json), and it queues a
// workflow and shows its progress and image. Every request it makes is
// written to test-results/official-frontend-requests.log.
async function officialFrontend(browser, defs) {
  if (!FRONTEND || !existsSync(join(FRONTEND, 'index.html'))) {
    skip('official ComfyUI frontend', 'set COMFYUI_FRONTEND_DIR to a built ComfyUI_frontend dist/ to run it');
    return;
  }
  if (!('SaveImage' in defs)) {
    skip('official ComfyUI frontend', 'the server does not register SaveImage');
    return;
  }
  const server = await startServer(['--front-end-root', FRONTEND]);
  const page = await browser.newPage();
  const origin = new URL(server.url).origin;
  // The frontend also calls comfy.org (release notes): the test stays offline.
  await page.route((url) => url.origin !== origin, (route) => route.abort());
  const requests = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.origin === origin) requests.push(`${r.request().method()} ${u.pathname}${u.search} ${r.status()}`);
  });
  const pageErrors = [];
  const consoleErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload === 'string' && frames.push(JSON.parse(f.payload))));
  const app = (fn, arg) => page.evaluate(fn, arg);
  const unexpected = () => requests.filter((r) => / [45]\d\d$/.test(r) && !expectedMisses.some((m) => m.test(r)));
  // templateImages runs in the page: are n thumbnails from /templates/ shown?
  const templateImages = (n) => [...document.querySelectorAll('img')]
    .filter((i) => i.complete && i.naturalWidth > 0 && new URL(i.src).pathname.startsWith('/templates/')).length >= n;
  try {
    await step('official frontend: loads, every start-up call answers as ComfyUI does', async () => {
      await page.goto(server.url + '/');
      await page.waitForFunction(() => window.app?.graph && window.app.canvas, null, { timeout: 60_000 });
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: join(RESULTS, 'official-frontend-loaded.png') });
      const bad = unexpected();
      assert(bad.length === 0, `unexpected answers:\n${bad.join('\n')}`);
      // Every frontend version asks for these; the others it asks for
      // (system_stats, features, i18n, jobs… by version) are in the log.
      for (const path of ['/api/object_info', '/api/settings', '/api/users', '/api/extensions']) {
        assert(requests.some((r) => r.startsWith(`GET ${path} 200`)), `the frontend did not get ${path}`);
      }
      assert(pageErrors.length === 0, `script errors:\n${pageErrors.join('\n')}`);
      const real = consoleErrors.filter((e) => !frontendNoise.some((n) => n.test(e)));
      assert(real.length === 0, `console errors:\n${real.join('\n')}`);
    });

    // Frontends since v1.10 read the template list from /templates/index.json
    // (gocomfy's own templates, which run on its nodes); older ones list the
    // few they ship in their templates/ folder, which need model nodes.
    const fromIndex = requests.some((r) => r.startsWith('GET /templates/index.json 200'));
    await step(`official frontend: the template browser shows ${fromIndex ? "gocomfy's templates and runs one" : 'its own templates with their thumbnails'}`, async () => {
      if (!(await page.evaluate(templateImages, 1))) {
        await app(() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates'));
      }
      if (!fromIndex) {
        const shipped = readdirSync(join(FRONTEND, 'templates')).filter((f) => /\.(jpe?g|png|webp)$/.test(f)).length;
        await page.waitForFunction(templateImages, shipped, { timeout: TIMEOUT });
        await page.screenshot({ path: join(RESULTS, 'official-frontend-templates.png') });
        await page.keyboard.press('Escape');
        return;
      }
      const index = await (await fetch(`${server.url}/templates/index.json`)).json();
      const template = index[0].templates[0];
      for (const t of index[0].templates) await page.getByText(t.title).first().waitFor({ timeout: TIMEOUT });
      await page.waitForFunction(templateImages, index[0].templates.length, { timeout: TIMEOUT });
      await page.screenshot({ path: join(RESULTS, 'official-frontend-templates.png') });
      await page.getByText(template.title).first().click();
      const want = Object.keys((await (await fetch(`${server.url}/templates/${template.name}.json`)).json()).nodes).length;
      await page.waitForFunction((n) => window.app.graph.nodes.length === n, want, { timeout: TIMEOUT });
      await app(() => window.app.queuePrompt(0));
      const save = await app(() => window.app.graph.nodes.find((n) => n.type === 'SaveImage').id);
      await page.waitForFunction((id) => window.app.graph.getNodeById(id)?.imgs?.length > 0, save, { timeout: 30_000 });
      await page.screenshot({ path: join(RESULTS, 'official-frontend-template-run.png') });
    });

    await step('official frontend: queues a workflow, shows progress and the image', async () => {
      // Close what start-up opened over the canvas (templates, missing nodes).
      for (let i = 0; i < 3; i++) await page.keyboard.press('Escape');
      await app((p) => window.app.loadApiJson(p, 'e2e'), testPrompt('SaveImage', 2));
      await app(() => window.app.queuePrompt(0));
      const progressed = () => frames.some((f) => f.type === 'progress' && f.data.node === '2' && f.data.value > 0);
      for (const deadline = Date.now() + TIMEOUT; !progressed(); await page.waitForTimeout(50)) {
        assert(Date.now() < deadline, 'no progress message for the sleeping node');
      }
      await page.screenshot({ path: join(RESULTS, 'official-frontend-progress.png') });
      await page.waitForFunction(() => window.app.graph.getNodeById(3)?.imgs?.length > 0, null, { timeout: 30_000 });
      await page.screenshot({ path: join(RESULTS, 'official-frontend.png') });
      for (const t of ['execution_start', 'executing', 'progress', 'executed', 'execution_success']) {
        assert(frames.some((f) => f.type === t), `no ${t} message arrived over /ws`);
      }
      assert(pageErrors.length === 0, `script errors:\n${pageErrors.join('\n')}`);
    });

    await step('official frontend: no call answered with an unexpected error', async () => {
      const bad = unexpected();
      assert(bad.length === 0, `unexpected answers:\n${bad.join('\n')}`);
    });
  } finally {
    writeFileSync(join(RESULTS, 'official-frontend-requests.log'), `${requests.join('\n')}\n`);
    await page.close();
    if (results.failed) console.log(server.log());
    await server.stop();
  }
}

async function main() {
  assert(BIN && existsSync(BIN), 'GOCOMFY_BIN must name a built gocomfy binary (see web/e2e.sh)');
  assert(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium)`);
  mkdirSync(RESULTS, { recursive: true });
  const probe = await startServer();
  const defs = await (await fetch(`${probe.url}/object_info`)).json();
  await probe.stop();
  const { browser, close } = await launchBrowser();
  try {
    await ownPage(browser, defs);
    await officialFrontend(browser, defs);
  } finally {
    await close();
  }
  console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exitCode = results.failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`FAIL ${e.stack ?? e}`);
  console.log(`${results.passed} passed, ${results.failed + 1} failed, ${results.skipped} skipped`);
  process.exitCode = 1;
});
