package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/blobstore"
	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Bucket bounds, in seconds, of the latency histograms.
var (
	httpBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	nodeBuckets = []float64{0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

// Metrics collects what /metrics reports that is not read from the store
// or the hub when scraped: HTTP requests by route, requests refused by a
// defence, and node execution times and cache hits by node class. Create
// it with NewMetrics; its methods are safe for concurrent use.
type Metrics struct {
	mu        sync.Mutex
	requests  map[requestKey]uint64
	latency   map[string]*histogram // by route pattern
	refusals  map[string]uint64     // by defence
	nodeTime  map[string]*histogram // by node class
	cacheHits map[string]uint64     // by node class

	runMu sync.Mutex
	run   nodeRun // the prompt whose nodes are being timed
}

type requestKey struct {
	route string
	code  int
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: map[requestKey]uint64{}, latency: map[string]*histogram{}, refusals: map[string]uint64{},
		nodeTime: map[string]*histogram{}, cacheHits: map[string]uint64{},
	}
}

// request records one HTTP request. A WebSocket (101) is counted, but its
// duration, the connection's life, is not a latency.
func (m *Metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, code}]++
	if code != http.StatusSwitchingProtocols {
		observe(m.latency, route, httpBuckets, d.Seconds())
	}
}

// refused records a request a defence refused (auth, host, origin, ...).
func (m *Metrics) refused(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refusals[reason]++
}

// Observe returns a sink that forwards every event to next, after timing
// nodes from the executor's progress_state events: a node runs from its
// first "running" state to "finished"; a node finished without running was
// served from the cache. progress_state is the one per-node event sent
// whether or not the prompt has a client id. The classes of a prompt's
// nodes are read from st once per prompt; a node added by an expansion
// counts as the class of the prompt node it came from.
func (m *Metrics) Observe(next executor.Sink, st store.Store) executor.Sink {
	return executor.SinkFunc(func(e executor.Event) {
		if e.Type == "progress_state" {
			m.observeProgress(e.Data, st)
		}
		next.Event(e)
	})
}

// nodeRun is the timing state of one prompt's nodes.
type nodeRun struct {
	promptID string
	entries  int               // nodes in the latest snapshot; a run's snapshots only grow
	classes  map[string]string // node id → class_type, from the stored prompt
	started  map[string]time.Time
	done     map[string]bool
}

func (m *Metrics) observeProgress(data pyjson.Object, st store.Store) {
	id, _ := data.Get("prompt_id")
	promptID, _ := id.(string)
	raw, _ := data.Get("nodes")
	nodes, ok := raw.(executor.ProgressNodes)
	if !ok {
		return
	}
	now := time.Now()
	snapshot := nodes.Object()
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.run.promptID != promptID || len(snapshot) < m.run.entries { // another prompt, or the same one again
		m.run = nodeRun{promptID: promptID, classes: promptClasses(st, promptID),
			started: map[string]time.Time{}, done: map[string]bool{}}
	}
	m.run.entries = len(snapshot)
	for _, f := range snapshot {
		entry, _ := f.Value.(pyjson.Object)
		state, _ := entry.Get("state")
		if m.run.done[f.Key] {
			continue
		}
		switch state {
		case "running":
			if _, ok := m.run.started[f.Key]; !ok {
				m.run.started[f.Key] = now
			}
		case "finished":
			m.run.done[f.Key] = true
			real, _ := entry.Get("real_node_id")
			class := m.run.class(f.Key, real)
			start, ran := m.run.started[f.Key]
			delete(m.run.started, f.Key)
			m.mu.Lock()
			if ran {
				observe(m.nodeTime, class, nodeBuckets, now.Sub(start).Seconds())
			} else {
				m.cacheHits[class]++
			}
			m.mu.Unlock()
		}
	}
}

func (r *nodeRun) class(nodeID string, realID any) string {
	if c, ok := r.classes[nodeID]; ok {
		return c
	}
	if id, ok := realID.(string); ok {
		if c, ok := r.classes[id]; ok {
			return c
		}
	}
	return "unknown"
}

// promptClasses returns the class of each node of a stored prompt (none if
// it cannot be read: its nodes are then counted as "unknown").
func promptClasses(st store.Store, promptID string) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	j, err := st.Get(ctx, promptID)
	if err != nil {
		return nil
	}
	var prompt map[string]struct {
		ClassType string `json:"class_type"`
	}
	json.Unmarshal(j.Prompt, &prompt)
	classes := make(map[string]string, len(prompt))
	for id, n := range prompt {
		classes[id] = n.ClassType
	}
	return classes
}

// histogram is a Prometheus histogram: counts per bucket (not cumulative
// here), their sum and their number.
type histogram struct {
	bounds []float64
	counts []uint64
	sum    float64
	count  uint64
}

// observe adds v to the histogram of key in hs, creating it if needed.
func observe(hs map[string]*histogram, key string, bounds []float64, v float64) {
	h := hs[key]
	if h == nil {
		h = &histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
		hs[key] = h
	}
	if i, _ := slices.BinarySearch(bounds, v); i < len(bounds) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
}

// routeKey is the context key of the route label observeHTTP records.
type routeKey struct{}

// observeHTTP records every request in the metrics: the route that served
// it (set by withRoute), its status and its duration.
func (s *Server) observeHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := "unmatched"
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
		s.metrics.request(route, sw.code(), time.Since(start))
	})
}

// withRoute labels the requests h serves with the route's pattern.
func withRoute(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route, ok := r.Context().Value(routeKey{}).(*string); ok {
			*route = pattern
		}
		h.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 && (status >= 200 || status == http.StatusSwitchingProtocols) {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (WebSocket).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the status answered: 200 if the handler wrote nothing.
func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// getMetrics is GET /metrics, in Prometheus's text exposition format.
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	jobs, err := s.jobCounts(r.Context())
	if err != nil {
		return err
	}
	var e exposition
	e.family("gocomfy_info", "gauge", "The server's version and id.")
	e.sample("gocomfy_info", labels("version", s.cfg.Version, "server_id", s.cfg.ServerID), 1)
	e.family("gocomfy_jobs", "gauge",
		`Jobs in the store by status; pending is the queue depth, finished jobs are those the history keeps.`)
	for _, j := range jobs {
		e.sample("gocomfy_jobs", labels("status", string(j.status)), float64(j.n))
	}
	e.family("gocomfy_queue_max_pending", "gauge", "The bound on pending jobs (--max-queue); 0 is none.")
	e.sample("gocomfy_queue_max_pending", "", float64(s.cfg.MaxPending))
	e.family("gocomfy_websocket_clients", "gauge", "Connected WebSocket clients.")
	e.sample("gocomfy_websocket_clients", "", float64(s.cfg.Hub.Len()))
	if s.cfg.Bucket != nil {
		writeBucketStats(&e, s.cfg.Bucket.Stats())
	}
	s.metrics.write(&e)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(e.Bytes())
	return nil
}

// writeBucketStats adds the --output-bucket counts: what did not reach
// the bucket stays on its instance, and other instances answer 404 for it.
func writeBucketStats(e *exposition, st blobstore.Stats) {
	e.family("gocomfy_bucket_uploads_total", "counter", "Files copied to --output-bucket by result: "+
		"uploaded; retried (an attempt failed and is tried again); failed (given up after every attempt) and "+
		"dropped (too many files waiting), both left on this instance only.")
	for _, r := range []struct {
		result string
		n      int
	}{{"uploaded", st.Uploaded}, {"retried", st.Retried}, {"failed", st.Failed}, {"dropped", st.Dropped}} {
		e.sample("gocomfy_bucket_uploads_total", labels("result", r.result), float64(r.n))
	}
	e.family("gocomfy_bucket_pending", "gauge", "Files waiting for upload to --output-bucket (queued, uploading or to be retried).")
	e.sample("gocomfy_bucket_pending", "", float64(st.Pending))
	e.family("gocomfy_bucket_fetches_total", "counter",
		"Files another instance wrote, copied from --output-bucket for a reader (LoadImage), by result.")
	e.sample("gocomfy_bucket_fetches_total", labels("result", "fetched"), float64(st.Fetched))
	e.sample("gocomfy_bucket_fetches_total", labels("result", "failed"), float64(st.FetchFailed))
	e.family("gocomfy_bucket_read_errors_total", "counter",
		"Reads of --output-bucket that failed other than for a missing file: /view, and the listings that number saves.")
	e.sample("gocomfy_bucket_read_errors_total", "", float64(st.ReadFailed))
}

type jobCount struct {
	status store.Status
	n      int
}

// jobCounts counts the jobs in the store by status.
func (s *Server) jobCounts(ctx context.Context) ([]jobCount, error) {
	pending, running, err := s.cfg.Store.QueueLen(ctx)
	if err != nil {
		return nil, err
	}
	counts := []jobCount{{store.Pending, pending}, {store.InProgress, running}}
	for _, status := range []store.Status{store.Completed, store.Failed, store.Cancelled} {
		_, n, err := s.cfg.Store.Jobs(ctx, store.JobQuery{Statuses: []store.Status{status}, Limit: 1})
		if err != nil {
			return nil, err
		}
		counts = append(counts, jobCount{status, n})
	}
	return counts, nil
}

// write adds the collected metrics to e, label values in sorted order.
func (m *Metrics) write(e *exposition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.family("gocomfy_http_requests_total", "counter",
		`HTTP requests by route pattern and status; route "unmatched" is a request no route served (refused, not found).`)
	keys := slices.SortedFunc(maps.Keys(m.requests), func(a, b requestKey) int {
		return cmp.Or(strings.Compare(a.route, b.route), cmp.Compare(a.code, b.code))
	})
	for _, k := range keys {
		e.sample("gocomfy_http_requests_total", labels("route", k.route, "code", strconv.Itoa(k.code)), float64(m.requests[k]))
	}
	e.histograms("gocomfy_http_request_duration_seconds", "HTTP request latency by route pattern (WebSockets excluded).",
		"route", m.latency)
	e.family("gocomfy_http_refused_total", "counter", "Requests refused by a defence (auth, host, origin, cross_site, cross_origin).")
	for _, reason := range slices.Sorted(maps.Keys(m.refusals)) {
		e.sample("gocomfy_http_refused_total", labels("reason", reason), float64(m.refusals[reason]))
	}
	e.histograms("gocomfy_node_execution_seconds", "Node execution time by class, from start to finish (lazy and async waits included).",
		"class", m.nodeTime)
	e.family("gocomfy_node_cache_hits_total", "counter", "Nodes served from the cache by class.")
	for _, class := range slices.Sorted(maps.Keys(m.cacheHits)) {
		e.sample("gocomfy_node_cache_hits_total", labels("class", class), float64(m.cacheHits[class]))
	}
}

// exposition is a metrics page in Prometheus's text format 0.0.4.
type exposition struct{ bytes.Buffer }

func (e *exposition) family(name, typ, help string) {
	fmt.Fprintf(e, "# HELP %s %s\n# TYPE %s %s\n", name, helpEscaper.Replace(help), name, typ)
}

// sample writes one line; labels is "" or a labels() result.
func (e *exposition) sample(name, labels string, v float64) {
	e.WriteString(name)
	if labels != "" {
		e.WriteString("{" + labels + "}")
	}
	e.WriteByte(' ')
	e.WriteString(formatFloat(v))
	e.WriteByte('\n')
}

// histograms writes a histogram family with one histogram per value of
// label.
func (e *exposition) histograms(name, help, label string, hs map[string]*histogram) {
	e.family(name, "histogram", help)
	for _, key := range slices.Sorted(maps.Keys(hs)) {
		h := hs[key]
		l := labels(label, key)
		var cumulative uint64
		for i, le := range h.bounds {
			cumulative += h.counts[i]
			e.sample(name+"_bucket", l+","+labels("le", formatFloat(le)), float64(cumulative))
		}
		e.sample(name+"_bucket", l+`,le="+Inf"`, float64(h.count))
		e.sample(name+"_sum", l, h.sum)
		e.sample(name+"_count", l, float64(h.count))
	}
}

// labels formats name/value pairs as Prometheus labels, values escaped.
func labels(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pairs[i] + `="`)
		b.WriteString(labelEscaper.Replace(pairs[i+1]))
		b.WriteByte('"')
	}
	return b.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
