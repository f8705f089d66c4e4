// The side panels: the queue and history (jobs API) with cancel, the
// gallery of output images, and the assets browser.

import { ApiError, request, viewURL } from './api.js';

/** el creates an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.filter((c) => c !== undefined && c !== null));
  return e;
}

/** Gallery lists output images, newest first, each linking to its full size. */
export class Gallery {
  constructor(root) {
    this.root = root;
    this.seen = new Set();
  }

  /** add shows the image files of one node's output ({filename, subfolder, type}). */
  add(files, caption) {
    for (const f of [...files].reverse()) {
      if (!f?.filename) continue;
      const url = viewURL(f);
      if (this.seen.has(url)) continue;
      this.seen.add(url);
      const item = el('a', { class: 'gallery-item', href: url, target: '_blank', title: f.filename },
        el('img', { src: url, alt: f.filename, loading: 'lazy' }),
        el('span', {}, caption ?? f.filename));
      this.root.prepend(item);
    }
  }
}

const JOB_LIMIT = 50;

/**
 * JobsPanel shows the jobs API's list: pending and running jobs with a
 * cancel button, finished ones with their status, duration and preview.
 * Clicking a finished job shows its outputs (onOpen receives the job).
 */
export class JobsPanel {
  constructor(root, { onOpen, onError }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onError = onError;
    this.pending = null;
    this.stale = false;
  }

  /**
   * refresh reloads the list. Calls made while a load is in flight fold
   * into one more load after it: the answer in flight may predate what
   * they were told of (a cancel, a finished job).
   */
  refresh() {
    this.stale = true;
    this.pending ??= this.reload();
    return this.pending;
  }

  async reload() {
    try {
      while (this.stale) {
        this.stale = false;
        await this.load();
      }
    } finally {
      this.pending = null; // in the same turn as the last check of stale
    }
  }

  async load() {
    let data;
    try {
      data = await request(`/jobs?limit=${JOB_LIMIT}&offset=0`);
    } catch (e) {
      this.root.replaceChildren(el('p', { class: 'muted' }, `The jobs list is unavailable: ${e.message}`));
      return;
    }
    const jobs = data?.jobs ?? [];
    if (jobs.length === 0) {
      this.root.replaceChildren(el('p', { class: 'muted' }, 'No jobs yet. Queue a workflow to start one.'));
      return;
    }
    this.root.replaceChildren(...jobs.map((job) => this.row(job)));
  }

  row(job) {
    const active = job.status === 'pending' || job.status === 'in_progress';
    const preview = job.preview_output?.filename && job.preview_output.mediaType === 'images'
      ? el('img', { class: 'job-preview', src: viewURL(job.preview_output), alt: '' })
      : null;
    const duration = job.execution_end_time && job.execution_start_time
      ? `${((job.execution_end_time - job.execution_start_time) / 1000).toFixed(1)} s`
      : '';
    const cancel = active
      ? el('button', { class: 'small', onclick: (ev) => { ev.stopPropagation(); this.cancel(job.id); } }, 'Cancel')
      : null;
    return el('div', {
      class: `job job-${job.status}`,
      'data-job-id': job.id,
      title: job.execution_error?.exception_message ?? job.id,
      onclick: () => !active && this.open(job.id),
    },
    preview,
    el('div', { class: 'job-text' },
      el('span', { class: 'badge' }, job.status.replace('_', ' ')),
      el('span', { class: 'muted' }, ` ${new Date(job.create_time).toLocaleTimeString()} ${duration}`),
      el('div', { class: 'muted' }, `${job.outputs_count ?? 0} output(s) · ${job.id.slice(0, 8)}`)),
    cancel);
  }

  async cancel(id) {
    try {
      await request(`/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
    } catch (e) {
      this.onError(`Cancel failed: ${e.message}`);
    }
    this.refresh();
  }

  async open(id) {
    try {
      this.onOpen(await request(`/jobs/${encodeURIComponent(id)}`));
    } catch (e) {
      this.onError(`Could not load job ${id}: ${e.message}`);
    }
  }
}

/**
 * loadAssets fills root with the assets API's list (GET /api/assets), or a
 * message when the server does not offer it (404) or has it disabled (503).
 */
export async function loadAssets(root) {
  root.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  let data;
  try {
    data = await request('/assets?limit=100');
  } catch (e) {
    const why = e instanceof ApiError && e.status === 404
      ? 'This server has no assets API yet.'
      : `The assets API is unavailable: ${e.message}`;
    root.replaceChildren(el('p', { class: 'muted', 'data-assets-unavailable': true }, why));
    return;
  }
  const assets = data?.assets ?? [];
  if (assets.length === 0) {
    root.replaceChildren(el('p', { class: 'muted' }, 'No assets.'));
    return;
  }
  root.replaceChildren(...assets.map((a) => el('a', {
    class: 'gallery-item', href: a.preview_url ?? '#', target: '_blank', title: `${a.name} · ${(a.tags ?? []).join(', ')}`,
  },
  a.preview_url ? el('img', { src: a.preview_url, alt: a.name, loading: 'lazy' }) : el('div', { class: 'no-preview' }, a.mime_type ?? 'file'),
  el('span', {}, a.name))));
}
