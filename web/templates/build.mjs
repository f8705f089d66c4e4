// Builds gocomfy's own workflow templates (internal/web/templates/, served
// at /templates/) from sources.json: for each template, the UI-format
// workflow this page makes of its API prompt, and a thumbnail that is the
// image the workflow saves when gocomfy runs it. Plus the index.json the
// frontend's template browser reads and an empty index_logo.json.
//
//   node templates/build.mjs [OUTDIR]   (npm run templates)
//
// OUTDIR defaults to ../internal/web/templates. GOCOMFY_BIN names the
// gocomfy to run; without it one is built from this tree. e2e.sh builds
// into a temporary folder and fails when the committed copy differs.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, startServer } from '../e2e/harness.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const OUT = process.argv[2] ?? join(ROOT, 'internal/web/templates');
const sources = JSON.parse(readFileSync(new URL('sources.json', import.meta.url), 'utf8'));

/** run queues an API prompt and returns the first image it saved, as PNG bytes. */
async function run(url, prompt) {
  const res = await fetch(`${url}/prompt`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt }) });
  if (!res.ok) throw new Error(`POST /prompt: ${res.status} ${await res.text()}`);
  const { prompt_id: id } = await res.json();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const item = (await (await fetch(`${url}/history/${id}`)).json())[id];
    if (item?.status?.completed) {
      const image = Object.values(item.outputs).flatMap((o) => o.images ?? []).find((i) => i.type === 'output');
      if (!image) throw new Error('the workflow saved no image');
      return Buffer.from(await (await fetch(`${url}/view?${new URLSearchParams(image)}`)).arrayBuffer());
    }
    if (item?.status?.status_str === 'error') throw new Error(`the workflow failed: ${JSON.stringify(item.status.messages)}`);
    if (Date.now() > deadline) throw new Error('the workflow did not finish within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  let bin = process.env.GOCOMFY_BIN;
  const tmp = mkdtempSync(join(tmpdir(), 'gocomfy-templates-'));
  if (!bin) {
    bin = join(tmp, 'gocomfy');
    execFileSync('go', ['build', '-o', bin, './cmd/gocomfy'], { cwd: ROOT, stdio: 'inherit' });
  }
  const server = await startServer(bin, ['--disable-metadata']);
  const { browser, close } = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const index = [];
    for (const { prompt, ...meta } of sources.templates) {
      const workflow = await page.evaluate((p) => {
        window.gocomfy.open(p, 'api');
        return window.gocomfy.graph.serialize();
      }, prompt);
      writeFileSync(join(OUT, `${meta.name}.json`), `${JSON.stringify(workflow, null, 1)}\n`);
      writeFileSync(join(OUT, `${meta.name}-1.png`), await run(server.url, prompt));
      index.push({ ...meta, mediaType: 'image', mediaSubtype: 'png', models: [], openSource: true });
    }
    writeFileSync(join(OUT, 'index.json'), `${JSON.stringify([{ ...sources.category, templates: index }], null, 1)}\n`);
    writeFileSync(join(OUT, 'index_logo.json'), '{}\n');
  } finally {
    await close();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.stack ?? e);
  process.exitCode = 1;
});
