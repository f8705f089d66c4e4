package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Comfy API v2 (Comfy-Org/comfy-api-proxy spec/openapi.yaml), served from
// the same queue and store as the legacy routes. A v2 job is a prompt: its
// id is the prompt_id.

// v2ClientID is the client id of v2 jobs whose extra_data names none: the
// executor emits executing and executed only to a client, and the tracker
// needs them. Frames held for it are bounded by the hub.
const v2ClientID = "comfy-api-v2"

// v2Retention is the nominal retention reported as expires_at. gocomfy
// trims the history by count (--max-history), not by age, so a job may go
// earlier when many run, and no job is ever reported "expired".
const v2Retention = 30 * 24 * time.Hour

// maxWait bounds a synchronous run's wait (?wait= or Prefer: wait=).
const maxWait = 10 * time.Minute

// sseKeepAlive is how often an idle event stream gets a comment line (and
// re-reads the job, in case a wake-up was missed).
const sseKeepAlive = 15 * time.Second

// v2API serves /api/v2.
type v2API struct {
	s       *Server
	tracker *jobTracker
}

// v2Routes returns the /api/v2 routes. The job tracker (with the jobs of
// every instance) and the node timer (this instance's) watch the sink for
// as long as the server lives.
func (s *Server) v2Routes() []route {
	a := &v2API{s: s, tracker: newJobTracker()}
	if s.cfg.Sink != nil {
		s.cfg.Sink.WatchShared(a.tracker.event)
		s.cfg.Sink.Watch(newNodeTimer(s.cfg.Store, s.log).event)
	}
	a.watchWebhooks()
	h := s.serve
	return append(a.v2AssetRoutes(), []route{
		{"GET /api/v2/health", h(a.getHealth), false},
		{"POST /api/v2/jobs", h(a.postJob), false},
		{"GET /api/v2/jobs/{id}", h(a.getJob), false},
		{"POST /api/v2/jobs/{id}/cancel", h(a.cancelJob), false},
		{"GET /api/v2/jobs/{id}/events", h(a.getEvents), false},
		{"GET /api/v2/jobs/{id}/webhooks", h(a.getWebhooks), false},
	}...)
}

// v2Error is the spec's ErrorEnvelope: {"error": {"code", "message",
// "details"}}.
func v2Error(status int, code, message string, details any) error {
	e := pyjson.Object{{Key: "code", Value: code}, {Key: "message", Value: message}}
	if details != nil {
		e = append(e, pyjson.Field{Key: "details", Value: details})
	}
	return &httpError{status, pyjson.Object{{Key: "error", Value: e}}}
}

func (a *v2API) getHealth(w http.ResponseWriter, r *http.Request) error {
	status, code := "healthy", http.StatusOK
	if a.s.draining.Load() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	writeJSON(w, code, pyjson.Object{{Key: "status", Value: status}})
	return nil
}

// jobRequest is the POST /api/v2/jobs body.
type jobRequest struct {
	Workflow   json.RawMessage `json:"workflow"`
	ExtraData  json.RawMessage `json:"extra_data"`
	WebhookURL json.RawMessage `json:"webhook_url"`
	Inputs     json.RawMessage `json:"inputs"`
}

// isUIFormat reports whether a workflow is the UI export (top-level
// "nodes" list and "links") rather than the API format.
func isUIFormat(workflow json.RawMessage) bool {
	var w struct {
		Nodes json.RawMessage `json:"nodes"`
		Links json.RawMessage `json:"links"`
	}
	if json.Unmarshal(workflow, &w) != nil {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(string(w.Nodes)), "[") && w.Links != nil
}

// postJob is POST /api/v2/jobs, with an optional synchronous wait and
// Idempotency-Key.
func (a *v2API) postJob(w http.ResponseWriter, r *http.Request) error {
	wait, err := waitOf(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var id string
	status := http.StatusCreated
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		userID, err := a.s.userID(r)
		if err != nil {
			return err
		}
		state, jobID, err := a.reserveKey(r.Context(), userID, key, body, time.Now())
		if err != nil {
			return err
		}
		switch state {
		case idemReuse:
			return v2Error(http.StatusUnprocessableEntity, "idempotency_key_reuse",
				"This Idempotency-Key was used with another request body.", nil)
		case idemInFlight:
			w.Header().Set("Retry-After", "1")
			return v2Error(http.StatusConflict, "idempotency_conflict",
				"A request with this Idempotency-Key is still being handled.", nil)
		case idemReplay:
			w.Header().Set("Idempotency-Replayed", "true")
			id = jobID
		case idemNew:
			// The key is settled even if the client has gone.
			ctx := context.WithoutCancel(r.Context())
			if id, err = a.create(w, r, body, jobID); err != nil {
				if err := a.s.cfg.Store.ReleaseIdempotencyKey(ctx, userID, key, jobID); err != nil {
					a.s.log.Error("releasing an Idempotency-Key", "err", err)
				}
				return err
			}
			if err := a.s.cfg.Store.FinishIdempotencyKey(ctx, userID, key, jobID); err != nil {
				return err
			}
		}
	} else if id, err = a.create(w, r, body, ""); err != nil {
		return err
	}
	if wait > 0 {
		if !a.waitTerminal(r.Context(), id, wait) {
			status = http.StatusAccepted
		}
		w.Header().Set("Preference-Applied", "wait="+strconv.FormatFloat(wait.Seconds(), 'f', -1, 64))
	}
	view, err := a.view(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Location", jobURL(id, ""))
	writeJSON(w, status, view)
	return nil
}

// create validates and queues the job of a POST /api/v2/jobs body, with
// id jobID ("": a new one), and returns its id; w only gets the
// Retry-After of a full queue.
func (a *v2API) create(w http.ResponseWriter, r *http.Request, body []byte, jobID string) (string, error) {
	var req jobRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", v2Error(http.StatusBadRequest, "invalid_request", "Body must be a JSON object: "+err.Error(), nil)
	}
	if isPresent(req.Inputs) {
		return "", v2Error(http.StatusUnprocessableEntity, "invalid_request", "inputs is not supported yet", nil)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(req.Workflow)), "{") {
		return "", v2Error(http.StatusUnprocessableEntity, "invalid_workflow", "Missing 'workflow' (an API-format graph object).", nil)
	}
	if isUIFormat(req.Workflow) {
		return "", v2Error(http.StatusUnprocessableEntity, "workflow_format_ui",
			"This is a UI-export graph (nodes/links). Export the workflow in API format instead.", nil)
	}
	// After the cheap checks: it may resolve a host name.
	hook, err := a.webhookURL(r.Context(), req.WebhookURL)
	if err != nil {
		return "", err
	}
	userID, err := a.s.userID(r)
	if err != nil {
		return "", err
	}
	sub := queue.Submission{Prompt: req.Workflow, PromptID: jobID, UserID: userID, ClientID: v2ClientID,
		UsageSource: r.Header.Get("Comfy-Usage-Source")}
	if isPresent(req.ExtraData) {
		var extra map[string]json.RawMessage
		if json.Unmarshal(req.ExtraData, &extra) != nil {
			return "", v2Error(http.StatusUnprocessableEntity, "invalid_request", "extra_data must be an object", nil)
		}
		sub.ExtraData = req.ExtraData
		// A client id of the caller's keeps its /ws client informed.
		var cid string
		if json.Unmarshal(extra["client_id"], &cid) == nil && cid != "" {
			sub.ClientID = cid
		}
	}
	acc, err := a.s.cfg.Queue.Submit(r.Context(), sub)
	var rejected *queue.Rejected
	switch {
	case errors.As(err, &rejected):
		return "", v2Error(http.StatusUnprocessableEntity, "invalid_workflow", rejected.Err.Message+": "+rejected.Err.Details,
			pyjson.Object{{Key: "type", Value: rejected.Err.Type}, {Key: "node_errors", Value: v2NodeErrors(rejected)}})
	case errors.Is(err, queue.ErrQueueFull):
		w.Header().Set("Retry-After", "5")
		return "", v2Error(http.StatusTooManyRequests, "queue_full", "The queue is full; retry later.", nil)
	case err != nil:
		return "", err
	}
	if hook != "" {
		if err := a.subscribeWebhook(context.WithoutCancel(r.Context()), acc.PromptID, hook); err != nil {
			return "", err
		}
	}
	return acc.PromptID, nil
}

// v2NodeErrors turns ComfyUI's node_errors into the spec's details shape:
// {"node id": [{"field", "reason", "message"}]}.
func v2NodeErrors(rej *queue.Rejected) pyjson.Object {
	out := pyjson.Object{}
	for _, ne := range rej.NodeErrors {
		list := make([]any, len(ne.Errors))
		for i, e := range ne.Errors {
			field, _ := e.ExtraInfo.Get("input_name")
			list[i] = pyjson.Object{{Key: "field", Value: field}, {Key: "reason", Value: e.Type},
				{Key: "message", Value: e.Message + ": " + e.Details}}
		}
		out.Set(ne.NodeID, list)
	}
	return out
}

// waitOf reads a synchronous run's wait: ?wait=SECONDS, else the Prefer
// header's wait=SECONDS (RFC 7240); 0 when neither is given.
func waitOf(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		for _, pref := range strings.Split(r.Header.Get("Prefer"), ",") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(pref), "wait="); ok {
				v = s
			}
		}
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64)
	if err != nil || n < 0 || n != n {
		return 0, v2Error(http.StatusBadRequest, "invalid_request", "wait must be a number of seconds", nil)
	}
	if n >= maxWait.Seconds() { // before converting: a huge n overflows
		return maxWait, nil
	}
	return time.Duration(n * float64(time.Second)), nil
}

// waitTerminal waits until job id is finished, for at most d; it reports
// whether it finished.
func (a *v2API) waitTerminal(ctx context.Context, id string, d time.Duration) bool {
	wake, stop := a.tracker.watch(id)
	defer stop()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if j, err := a.job(ctx, id); err == nil && j.Status.Finished() {
			return true
		}
		select {
		case <-wake:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// job returns job id from the store, or from the jobs cancelled while
// pending; a *httpError 404 if neither has it.
func (a *v2API) job(ctx context.Context, id string) (*store.Job, error) {
	j, err := a.s.cfg.Store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if c, ok := a.tracker.canceledJob(id); ok {
			return c, nil
		}
		return nil, v2Error(http.StatusNotFound, "not_found", "No job "+id+".", nil)
	}
	return j, err
}

func (a *v2API) getJob(w http.ResponseWriter, r *http.Request) error {
	view, err := a.view(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// cancelJob is POST /api/v2/jobs/{id}/cancel: idempotent; a finished job
// is answered as it is.
func (a *v2API) cancelJob(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	j, err := a.job(r.Context(), id)
	if err != nil {
		return err
	}
	if !j.Status.Finished() {
		if j.Status == store.InProgress {
			a.tracker.setCanceling(id)
		}
		if _, err := a.s.cfg.Queue.Cancel(r.Context(), id); err != nil {
			return err
		}
		if _, err := a.s.cfg.Store.Get(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			a.tracker.rememberCanceled(j, time.Now())
			a.webhookFinished(context.WithoutCancel(r.Context()), id, j.WebhookURL) // no engine event tells of this end
		} else if err == nil && j.Status == store.Pending {
			a.tracker.setCanceling(id) // it started meanwhile and was interrupted
		}
	}
	return a.getJob(w, r)
}

// jobURL is a job's URL, or the URL of one of its sub-resources.
func jobURL(id, sub string) string {
	u := "/api/v2/jobs/" + url.PathEscape(id)
	if sub != "" {
		u += "/" + sub
	}
	return u
}

// timestamp renders ms since the epoch as RFC 3339 (UTC, milliseconds);
// 0 is null.
func timestamp(ms int64) any {
	if ms == 0 {
		return nil
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// v2Status maps a store state to the spec's JobStatus.
func (a *v2API) v2Status(j *store.Job) string {
	switch j.Status {
	case store.Pending:
		return "queued"
	case store.InProgress:
		if a.tracker.isCanceling(j.ID) {
			return "canceling"
		}
		return "running"
	case store.Completed:
		return "succeeded"
	case store.Cancelled:
		return "canceled"
	}
	return "failed"
}

// view returns the spec's Job object for job id.
func (a *v2API) view(ctx context.Context, id string) (pyjson.Object, error) {
	j, err := a.job(ctx, id)
	if err != nil {
		return nil, err
	}
	var position any
	if j.Status == store.Pending {
		_, pending, err := a.s.cfg.Store.Queue(ctx)
		if err != nil {
			return nil, err
		}
		for i, p := range pending {
			if p.ID == id {
				position = i
			}
		}
	}
	var progress any
	outputs := []any{}
	expires := time.UnixMilli(j.CreateTime).Add(v2Retention).UnixMilli()
	live, running := a.tracker.snapshot(id)
	switch {
	case j.Status == store.InProgress && running:
		progress = progressView(j, live)
		outputs = a.outputsView(live.outputs, expires)
	case j.Status.Finished() && len(j.Outputs) > 0:
		ui, err := pyjson.DecodeObject(j.Outputs)
		if err != nil {
			return nil, fmt.Errorf("stored outputs of %s: %w", id, err)
		}
		outputs = a.outputsView(ui, expires)
	}
	timing := timingView(j, time.Now())
	queueMS, _ := timing.Get("queue_ms")
	execMS, _ := timing.Get("execution_ms")
	return pyjson.Object{
		{Key: "id", Value: j.ID},
		{Key: "status", Value: a.v2Status(j)},
		{Key: "created_at", Value: timestamp(j.CreateTime)},
		{Key: "started_at", Value: timestamp(j.StartTime)},
		{Key: "completed_at", Value: timestamp(j.EndTime)},
		{Key: "expires_at", Value: timestamp(expires)},
		{Key: "queue_position", Value: position},
		{Key: "progress", Value: progress},
		{Key: "outputs", Value: outputs},
		{Key: "error", Value: jobError(j)},
		{Key: "metrics", Value: pyjson.Object{{Key: "queue_ms", Value: queueMS}, {Key: "execution_ms", Value: execMS}}},
		{Key: "timing", Value: timing},
		{Key: "urls", Value: pyjson.Object{
			{Key: "self", Value: jobURL(id, "")},
			{Key: "events", Value: jobURL(id, "events")},
			{Key: "cancel", Value: jobURL(id, "cancel")},
		}},
	}, nil
}

// progressView is the spec's Progress: the nodes done (finished or cached)
// out of the prompt's nodes, plus the fraction of the running node.
func progressView(j *store.Job, live liveSnapshot) pyjson.Object {
	var nodes map[string]struct {
		ClassType string `json:"class_type"`
	}
	json.Unmarshal(j.Prompt, &nodes)
	total := max(len(nodes), live.done)
	value := 0.0
	if total > 0 {
		value = float64(live.done) / float64(total)
		if live.steps > 0 && live.done < total {
			value += float64(min(live.step, live.steps)) / float64(live.steps) / float64(total)
		}
	}
	p := pyjson.Object{
		{Key: "value", Value: pyjson.Float(min(value, 1))},
		{Key: "nodes_done", Value: live.done},
		{Key: "nodes_total", Value: total},
		{Key: "current_node", Value: nil}, {Key: "current_node_class", Value: nil},
		{Key: "step", Value: nil}, {Key: "steps", Value: nil}, {Key: "message", Value: nil},
	}
	if live.current != "" {
		class := nodes[live.current].ClassType
		p.Set("current_node", live.current)
		p.Set("current_node_class", class)
		if live.steps > 0 {
			p.Set("step", live.step)
			p.Set("steps", live.steps)
			p.Set("message", fmt.Sprintf("%s %d/%d", class, live.step, live.steps))
		}
	}
	return p
}

// outputKinds maps ComfyUI's UI output keys to the spec's OutputType;
// other keys are "file".
var outputKinds = map[string]string{
	"images": "image", "gifs": "video", "video": "video", "audio": "audio", "text": "text", "latents": "latent",
}

// outputsView lists the files of UI outputs as the spec's Output objects.
// An output registered as an asset (--enable-assets: its UI entry has the
// asset's "id") is that asset, served by /api/v2/assets; any other has
// its /view reference as id and the /api/view URL. hash is null: it is
// computed lazily, and GET /api/v2/assets/{id} has it.
func (a *v2API) outputsView(ui pyjson.Object, expires int64) []any {
	out := []any{}
	for _, node := range ui {
		raw, err := pyjson.Marshal(node.Value)
		if err != nil {
			continue
		}
		entries, err := pyjson.DecodeObject(raw)
		if err != nil {
			continue
		}
		for _, kv := range entries {
			var items []struct {
				Filename  string `json:"filename"`
				Subfolder string `json:"subfolder"`
				Type      string `json:"type"`
				AssetID   string `json:"id"`
			}
			raw, err := pyjson.Marshal(kv.Value)
			if err != nil || json.Unmarshal(raw, &items) != nil {
				continue
			}
			kind := outputKinds[kv.Key]
			if kind == "" {
				kind = "file"
			}
			for _, it := range items {
				if it.Filename == "" {
					continue
				}
				id := path.Join(it.Type, it.Subfolder, it.Filename)
				u := "/api/view?" + url.Values{"filename": {it.Filename}, "subfolder": {it.Subfolder}, "type": {it.Type}}.Encode()
				if it.AssetID != "" && a.s.cfg.Assets != nil {
					id, u = it.AssetID, assetURL(it.AssetID, "content")
				}
				contentType := mime.TypeByExtension(path.Ext(it.Filename))
				if contentType == "" {
					contentType = "application/octet-stream"
				}
				out = append(out, pyjson.Object{
					{Key: "node_id", Value: node.Key}, {Key: "name", Value: it.Filename},
					{Key: "type", Value: kind}, {Key: "content_type", Value: contentType},
					{Key: "size_bytes", Value: a.fileSize(it.Type, it.Subfolder, it.Filename)},
					{Key: "id", Value: id}, {Key: "hash", Value: nil},
					{Key: "url", Value: u}, {Key: "url_expires_at", Value: timestamp(expires)},
				})
			}
		}
	}
	return out
}

// fileSize is the size of an output file; 0 when it cannot be read.
func (a *v2API) fileSize(typ, subfolder, name string) int64 {
	if a.s.cfg.Folders == nil {
		return 0
	}
	t, err := files.ParseType(typ)
	if err != nil {
		return 0
	}
	loc, err := a.s.cfg.Folders.Resolve(t, subfolder, name)
	if err != nil {
		return 0
	}
	fi, err := loc.Root.Stat(loc.Name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// jobError is the spec's JobError of a failed job, from ComfyUI's
// execution_error data; nil for other jobs.
func jobError(j *store.Job) any {
	if j.Status != store.Failed {
		return nil
	}
	var e struct {
		Message   string   `json:"exception_message"`
		Type      string   `json:"exception_type"`
		NodeID    *string  `json:"node_id"`
		NodeType  *string  `json:"node_type"`
		Traceback []string `json:"traceback"`
	}
	if json.Unmarshal(j.ExecutionError, &e) != nil || e.Message == "" {
		e.Message = "The job failed."
	}
	var tb any
	if len(e.Traceback) > 0 {
		tb = strings.Join(e.Traceback, "")
	}
	return pyjson.Object{
		{Key: "code", Value: "node_execution_error"}, {Key: "message", Value: e.Message},
		{Key: "node_id", Value: e.NodeID}, {Key: "class_type", Value: e.NodeType}, {Key: "traceback", Value: tb},
	}
}
