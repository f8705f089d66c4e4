package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
)

// Options configures a Mirror. Zero fields take the defaults.
type Options struct {
	// Bucket receives the files; Folders are the working folders whose
	// writes are mirrored. Both are required.
	Bucket  Bucket
	Folders *files.Folders
	Logger  *slog.Logger
	// Workers is the number of concurrent uploads; default 2.
	Workers int
	// MaxPending bounds the files waiting for upload (queued, uploading or
	// waiting to retry); a write beyond it is logged and not mirrored, so
	// that a bucket outage costs bounded memory and never stalls a save.
	// Default 10,000.
	MaxPending int
	// Attempts is how many times an upload is tried before it is given up
	// (logged as an error); default 8. Backoff is the wait before the first
	// retry, doubled for each next one up to a minute; default 1 s, so
	// eight attempts span about two minutes.
	Attempts int
	Backoff  time.Duration
}

// mirrored are the folders a Mirror uploads. Temp is left out: previews
// are per-instance and short-lived (emptied at every start and exit),
// their names are unique only within one instance (a random five-letter
// suffix and a counter over the local folder), so in a shared bucket
// instances would overwrite each other's previews, and mirroring them
// would upload every preview of every prompt.
var mirrored = [...]files.Type{files.Output, files.Input}

// A Mirror uploads every file written into the output and input folders
// (through files.WriteFile: node saves and /upload/image) to a bucket
// under Key, in the background: the writer only queues the name. Uploads
// read the file as it is when they start, so a file rewritten while
// queued is uploaded once, with its last content. A failed upload is
// retried with backoff; a file deleted before its upload is skipped.
//
// It also fetches: a reader that does not find a file in those folders
// (files.OpenOrFetch: LoadImage, the mask editor's original image) gets
// the bucket's copy written into the folder, so a prompt may load an
// image uploaded to another instance.
//
// A Mirror never deletes from the bucket, and files written before it
// started (or while the process was down) are not uploaded.
type Mirror struct {
	opt Options
	log *slog.Logger

	ctx    context.Context // cancelled by Close, aborting uploads
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers

	mu          sync.Mutex
	wake        *sync.Cond
	queue       []upload
	queued      map[upload]bool          // in queue (not yet started)
	fetching    map[upload]chan struct{} // being fetched; closed when done
	active      map[upload]int           // attempts under way
	waiters     map[upload][]chan error  // Await calls
	failing     map[upload]error         // waiting to retry: the last error
	lastKey     map[string]string        // by listed prefix: the last key seen (list)
	outstanding int                      // queued, uploading or waiting to retry
	idle        chan struct{}            // closed while outstanding == 0
	closed      bool
	stats       Stats
}

// upload is one file to upload: a file of a working folder, or (t is
// blobType) a content-store file, whose path is file.
type upload struct {
	t    files.Type
	name string
	file string
}

// Stats counts a Mirror's transfers since it started.
type Stats struct {
	Uploaded int // files uploaded
	Retried  int // failed attempts that were retried
	Failed   int // files given up after every attempt
	Dropped  int // writes not mirrored because MaxPending files were waiting
	Pending  int // files queued, uploading or waiting to retry, now

	Fetched     int // files copied from the bucket into a folder (OnMiss)
	FetchFailed int // fetches that failed other than for a missing object
	ReadFailed  int // Opens (/view) and listings (saves) that failed other than for a missing object
}

// NewMirror starts a Mirror: it hooks the output and input folders
// (files.Folders.OnWrite) and starts the upload workers. Close it before
// closing the folders.
func NewMirror(opt Options) *Mirror {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 10_000
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 8
	}
	if opt.Backoff <= 0 {
		opt.Backoff = time.Second
	}
	m := &Mirror{opt: opt, log: opt.Logger, queued: map[upload]bool{}, fetching: map[upload]chan struct{}{},
		active: map[upload]int{}, waiters: map[upload][]chan error{}, failing: map[upload]error{}, lastKey: map[string]string{}, idle: make(chan struct{})}
	close(m.idle)
	m.wake = sync.NewCond(&m.mu)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for _, t := range mirrored {
		opt.Folders.OnWrite(t, func(name string) { m.Enqueue(t, name) })
		opt.Folders.OnMiss(t, func(ctx context.Context, name string) error { return m.fetch(ctx, t, name) })
		opt.Folders.OnList(t, func(ctx context.Context, dir, prefix string) []string { return m.list(ctx, t, dir, prefix) })
	}
	for range opt.Workers {
		m.wg.Add(1)
		go m.work()
	}
	return m
}

// Enqueue queues the file name of folder t for upload and returns at
// once. The folder hooks call it; a file already queued is not queued
// twice, and one being fetched from the bucket is not uploaded back (a
// write of the same name by another writer during the fetch is missed).
func (m *Mirror) Enqueue(t files.Type, name string) {
	m.enqueue(upload{t: t, name: name})
}

// enqueue queues u (see Enqueue).
func (m *Mirror) enqueue(u upload) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed, m.queued[u], m.fetching[u] != nil:
		return
	case m.outstanding >= m.opt.MaxPending:
		m.stats.Dropped++
		m.log.Error("output mirror: too many files waiting for upload; this one stays local",
			"key", Key(u.t, u.name), "pending", m.outstanding)
		return
	}
	m.outstanding++
	if m.outstanding == 1 {
		m.idle = make(chan struct{})
	}
	m.push(u)
}

// push appends u to the queue; m.mu is held and u counted in outstanding.
func (m *Mirror) push(u upload) {
	m.queue = append(m.queue, u)
	m.queued[u] = true
	m.wake.Signal()
}

// done ends one outstanding upload; m.mu is held.
func (m *Mirror) done() {
	m.outstanding--
	if m.outstanding == 0 {
		close(m.idle)
	}
}

// work uploads queued files until Close.
func (m *Mirror) work() {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		for len(m.queue) == 0 && !m.closed {
			m.wake.Wait()
		}
		if m.closed {
			m.mu.Unlock()
			return
		}
		u := m.queue[0]
		m.queue = m.queue[1:]
		delete(m.queued, u)
		m.active[u]++
		m.mu.Unlock()
		m.attempt(u, 1)
	}
}

// attempt makes attempt number n at uploading u, counted in active, and,
// if it fails, schedules the next one.
func (m *Mirror) attempt(u upload, n int) {
	err := m.put(u)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[u]--; m.active[u] == 0 {
		delete(m.active, u)
		if !m.queued[u] {
			for _, w := range m.waiters[u] {
				w <- err
			}
			delete(m.waiters, u)
		}
	}
	delete(m.failing, u)
	switch {
	case err == nil:
		m.stats.Uploaded++
	case errors.Is(err, fs.ErrNotExist):
		// Deleted (or replaced by a folder) before its upload: nothing
		// to mirror.
	case m.closed:
		m.log.Warn("output mirror: upload abandoned at shutdown", "key", Key(u.t, u.name), "err", err)
	case n >= m.opt.Attempts:
		m.stats.Failed++
		m.log.Error("output mirror: upload failed; the file stays local", "key", Key(u.t, u.name),
			"attempts", n, "err", err)
	default:
		m.stats.Retried++
		m.failing[u] = err
		wait := min(m.opt.Backoff<<(n-1), time.Minute)
		m.log.Warn("output mirror: upload failed, will retry", "key", Key(u.t, u.name), "attempt", n,
			"retry_in", wait, "err", err)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-m.ctx.Done(): // Close: retry sees closed and gives up
			}
			m.retry(u, n+1)
		}()
		return // still outstanding
	}
	m.done()
}

// retry runs attempt n of u, unless a newer write of the same file is
// queued (its upload carries the newer content) or the Mirror is closed.
func (m *Mirror) retry(u upload, n int) {
	m.mu.Lock()
	if m.closed || m.queued[u] {
		delete(m.failing, u)
		m.done()
		m.mu.Unlock()
		return
	}
	m.active[u]++
	m.mu.Unlock()
	m.attempt(u, n)
}

// put uploads the file as it is now.
func (m *Mirror) put(u upload) error {
	f, err := m.open(u)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", u.name, fs.ErrNotExist)
	}
	key := Key(u.t, u.name)
	if u.t == blobType {
		// Content named by its hash does not change: one copy will do.
		if size, _, err := m.opt.Bucket.Stat(m.ctx, key); err == nil && size == fi.Size() {
			return nil
		}
	}
	return m.opt.Bucket.Put(m.ctx, key, f, fi.Size(), fi.ModTime())
}

// open opens the file of u: a content-store file by its path, a folder's
// through the folder's root.
func (m *Mirror) open(u upload) (*os.File, error) {
	if u.t == blobType {
		return os.Open(u.file)
	}
	root := m.opt.Folders.Root(u.t)
	if root == nil {
		return nil, fmt.Errorf("%w: no %s folder", fs.ErrNotExist, u.t)
	}
	return root.Open(u.name)
}

// Await waits until the upload of file name of folder t, queued by its
// write, has been tried, and returns the attempt's error (a failed one is
// retried in the background), or ctx's. It returns at once when no upload
// of the file is queued or under way: the last error if one waits to be
// retried, else nil (done, or dropped: see MaxPending). /upload/image waits so that its answer means that every
// instance can load the file.
func (m *Mirror) Await(ctx context.Context, t files.Type, name string) error {
	name, err := files.CleanName(name)
	if err != nil {
		return err
	}
	return m.await(ctx, upload{t: t, name: name})
}

// await is Await of u.
func (m *Mirror) await(ctx context.Context, u upload) error {
	m.mu.Lock()
	if !m.queued[u] && m.active[u] == 0 {
		err := m.failing[u]
		m.mu.Unlock()
		return err
	}
	ch := make(chan error, 1) // never blocks attempt, even after ctx ends
	m.waiters[u] = append(m.waiters[u], ch)
	m.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush waits until every file queued so far (and since) is uploaded or
// given up, or ctx is done.
func (m *Mirror) Flush(ctx context.Context) error {
	m.mu.Lock()
	idle := m.idle
	m.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counts so far.
func (m *Mirror) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Pending = m.outstanding
	return s
}

// Close stops mirroring new writes, lets the uploads under way and queued
// finish until ctx is done (retries included), then aborts what is left,
// which is logged, and stops the workers. It does not close the bucket.
func (m *Mirror) Close(ctx context.Context) error {
	for _, t := range mirrored {
		m.opt.Folders.OnWrite(t, nil)
		m.opt.Folders.OnMiss(t, nil)
		m.opt.Folders.OnList(t, nil)
	}
	err := m.Flush(ctx)
	m.mu.Lock()
	m.closed = true
	left := m.outstanding
	m.wake.Broadcast()
	m.mu.Unlock()
	if err != nil {
		m.log.Error("output mirror: shutting down with uploads unfinished; those files stay local", "files", left)
	}
	m.cancel()
	m.wg.Wait()
	return err
}

// Open returns the object of file name in folder t for reading, or an
// error wrapping fs.ErrNotExist when the bucket does not hold it. name
// must have passed files.CleanName (files.Folders.Resolve).
func (m *Mirror) Open(ctx context.Context, t files.Type, name string) (*Object, error) {
	o, err := openObject(ctx, m.opt.Bucket, Key(t, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) && ctx.Err() == nil {
		m.mu.Lock()
		m.stats.ReadFailed++
		m.mu.Unlock()
	}
	return o, err
}

// list is the folders' OnList hook: the names in subfolder dir of folder t
// that start with prefix, as the bucket holds them, so that a save on this
// instance numbers its file after those of the others (two instances
// saving under one prefix at the same moment may still pick one number,
// and the later upload then replaces the other in the bucket). A listing
// that fails is logged, and the save numbers from what it got.
//
// Only the first save under a prefix lists every key; later ones list the
// keys after the last one seen, which it returns with them. Save numbers
// have five digits, zero-padded, so the last key in byte order holds the
// highest number, up to 99,999 (ComfyUI's numbers go on with six digits,
// which sort before: past that, other instances' newer files are missed).
func (m *Mirror) list(ctx context.Context, t files.Type, dir, prefix string) []string {
	keyPrefix := Key(t, prefix)
	if dir != "" {
		keyPrefix = Key(t, dir+"/"+prefix)
	}
	m.mu.Lock()
	last := m.lastKey[keyPrefix]
	m.mu.Unlock()
	keys, err := m.opt.Bucket.List(ctx, keyPrefix, last)
	if err != nil {
		m.log.Warn("output mirror: listing the bucket for a save's number failed", "prefix", keyPrefix, "err", err)
	}
	m.mu.Lock()
	if err != nil {
		m.stats.ReadFailed++
	}
	if len(keys) > 0 && keys[len(keys)-1] > m.lastKey[keyPrefix] {
		m.lastKey[keyPrefix] = keys[len(keys)-1]
	}
	m.mu.Unlock()
	if last != "" {
		keys = append(keys, last)
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, path.Base(k)) // a folder's "x/" too, as a directory listing shows it
	}
	return names
}

// fetch is the folders' OnMiss hook: it copies file name of folder t from
// the bucket into the folder. The copy keeps the writing instance's
// modification time, so that /view sends the same ETag from either copy,
// and is not uploaded back. Concurrent fetches of one file wait for the
// first, then the callers open whatever it left.
func (m *Mirror) fetch(ctx context.Context, t files.Type, name string) error {
	u := upload{t: t, name: name}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("%s: %w", Key(t, name), fs.ErrNotExist)
	}
	if ch := m.fetching[u]; ch != nil {
		m.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ch := make(chan struct{})
	m.fetching[u] = ch
	m.mu.Unlock()

	err := m.download(ctx, u)

	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.fetching, u)
	close(ch)
	switch {
	case err == nil:
		m.stats.Fetched++
	case errors.Is(err, fs.ErrNotExist):
	default:
		m.stats.FetchFailed++
		m.log.Warn("output mirror: fetching a file from the bucket failed", "key", Key(t, name), "err", err)
	}
	return err
}

// download writes the object of u into its folder, with the object's
// modification time.
func (m *Mirror) download(ctx context.Context, u upload) error {
	o, err := openObject(ctx, m.opt.Bucket, Key(u.t, u.name))
	if err != nil {
		return err
	}
	defer o.Close()
	root := m.opt.Folders.Root(u.t)
	err = files.WriteFile(root, u.name, func(w io.Writer) error {
		_, err := io.Copy(w, o)
		return err
	})
	if err != nil {
		return err
	}
	return root.Chtimes(u.name, o.ModTime, o.ModTime)
}

// Bucket is the bucket the Mirror writes to.
func (m *Mirror) Bucket() Bucket { return m.opt.Bucket }
