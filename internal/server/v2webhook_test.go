package server

import (
	"context"
	"encoding/json"
	"github.com/gocomfy/gocomfy/internal/store"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/webhook"
)

// hookReceiver is a loopback webhook endpoint that hands every delivery
// to the test.
type hookReceiver struct {
	url string
	got chan hookDelivery
}

type hookDelivery struct {
	path   string
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	got := make(chan hookDelivery, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- hookDelivery{r.URL.Path, r.Header.Clone(), body}
	}))
	t.Cleanup(srv.Close)
	return &hookReceiver{url: srv.URL, got: got}
}

// next returns the next delivery; the deadline only keeps a broken test
// from hanging.
func (h *hookReceiver) next(t *testing.T) hookDelivery {
	t.Helper()
	select {
	case d := <-h.got:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery")
		return hookDelivery{}
	}
}

func newDispatcher(t *testing.T, secret webhook.Secret, opt webhook.Options) *webhook.Dispatcher {
	t.Helper()
	opt.Secret, opt.Logger = secret, slog.New(slog.DiscardHandler)
	d, err := webhook.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return d
}

// postV2Job POSTs a v2 job with webhook_url hook and returns the response.
func postV2Job(e *opsEnv, hook any) *httptest.ResponseRecorder {
	var prompt struct {
		Prompt json.RawMessage `json:"prompt"`
	}
	json.Unmarshal([]byte(stubPrompt("")), &prompt)
	body, _ := json.Marshal(map[string]any{"workflow": prompt.Prompt, "webhook_url": hook})
	return e.do("POST", "/api/v2/jobs", string(body))
}

func jobID(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var j struct {
		ID string `json:"id"`
	}
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &j) != nil || j.ID == "" {
		t.Fatalf("POST /api/v2/jobs: %d %s", w.Code, w.Body)
	}
	return j.ID
}

// checkDelivery verifies a delivery's signature and envelope and returns
// the Job object's id and status.
func checkDelivery(t *testing.T, secret webhook.Secret, d hookDelivery, wantType string) (id, status string) {
	t.Helper()
	if err := secret.Verify(d.header, d.body, time.Now(), time.Minute); err != nil {
		t.Errorf("%s: %v", d.path, err)
	}
	var env struct {
		Type string `json:"type"`
		Data struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			URLs   struct {
				Self string `json:"self"`
			} `json:"urls"`
		} `json:"data"`
	}
	if err := json.Unmarshal(d.body, &env); err != nil || env.Type != wantType || env.Data.URLs.Self != jobURL(env.Data.ID, "") {
		t.Errorf("%s: envelope %s (%v), want type %s", d.path, d.body, err, wantType)
	}
	return env.Data.ID, env.Data.Status
}

func TestV2WebhooksDelivered(t *testing.T) {
	t.Parallel()
	rcv := newHookReceiver(t)
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	hooks := newDispatcher(t, secret, webhook.Options{URL: rcv.url + "/server", AllowPrivate: true})
	e := newOpsEnv(t, Config{Webhooks: hooks})
	e.runQueue()
	id := jobID(t, postV2Job(e, rcv.url+"/job?token=x"))

	paths := map[string]bool{}
	for range 2 {
		d := rcv.next(t)
		paths[d.path] = true
		if gotID, status := checkDelivery(t, secret, d, "job.succeeded"); gotID != id || status != "succeeded" {
			t.Errorf("%s: job %s %s, want %s succeeded", d.path, gotID, status, id)
		}
	}
	if !paths["/job"] || !paths["/server"] {
		t.Errorf("delivered to %v", paths)
	}

	// The log is written once the receiver has answered: wait for it.
	var log struct {
		Deliveries []struct {
			Target, URL, Outcome string
			StatusCode           int `json:"status_code"`
		}
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w := e.do("GET", "/api/v2/jobs/"+id+"/webhooks", "")
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &log) != nil {
			t.Fatalf("GET webhooks: %d %s", w.Code, w.Body)
		}
		if len(log.Deliveries) == 2 {
			break
		}
	}
	if len(log.Deliveries) != 2 {
		t.Fatalf("log %+v", log)
	}
	for _, d := range log.Deliveries {
		if d.Outcome != "delivered" || d.StatusCode != 200 || strings.Contains(d.URL, "token") {
			t.Errorf("log entry %+v", d)
		}
	}
}

func TestV2WebhookOfJobCanceledWhilePending(t *testing.T) {
	t.Parallel()
	rcv := newHookReceiver(t)
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	e := newOpsEnv(t, Config{Webhooks: newDispatcher(t, secret, webhook.Options{AllowPrivate: true})})
	id := jobID(t, postV2Job(e, rcv.url+"/job")) // the queue does not run
	if w := e.do("POST", "/api/v2/jobs/"+id+"/cancel", ""); w.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", w.Code, w.Body)
	}
	if gotID, status := checkDelivery(t, secret, rcv.next(t), "job.canceled"); gotID != id || status != "canceled" {
		t.Errorf("job %s %s", gotID, status)
	}
}

func TestV2WebhookURLRefused(t *testing.T) {
	t.Parallel()
	rcv := newHookReceiver(t)
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	guarded := newOpsEnv(t, Config{Webhooks: newDispatcher(t, secret, webhook.Options{})})
	off := newOpsEnv(t, Config{})
	for _, tc := range []struct {
		name string
		e    *opsEnv
		url  any
		want string
	}{
		{"loopback", guarded, rcv.url + "/job", "not allowed"},
		{"link-local", guarded, "http://169.254.169.254/latest/meta-data", "not allowed"},
		{"scheme", guarded, "file:///etc/passwd", "scheme"},
		{"not a string", guarded, 42, "must be a URL"},
		{"webhooks off", off, "https://hooks.example/x", "not enabled"},
	} {
		w := postV2Job(tc.e, tc.url)
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), tc.want) ||
			!strings.Contains(w.Body.String(), `"invalid_request"`) {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	if w := guarded.do("GET", "/queue", ""); !strings.Contains(w.Body.String(), `"queue_pending": []`) {
		t.Errorf("a refused job was queued: %s", w.Body)
	}
	if w := guarded.do("GET", "/api/v2/jobs/nope/webhooks", ""); w.Code != http.StatusNotFound {
		t.Errorf("unknown job: %d %s", w.Code, w.Body)
	}
	select {
	case d := <-rcv.got:
		t.Errorf("refused target got a delivery: %s", d.body)
	default:
	}
}

// TestV2WebhookSurvivesRestart: a job queued with a webhook_url by one
// server is run, and sent, by the next one over the same store.
func TestV2WebhookSurvivesRestart(t *testing.T) {
	t.Parallel()
	onSharedStores(t, testWebhookSurvivesRestart)
}

func testWebhookSurvivesRestart(t *testing.T, st store.Store) {
	rcv := newHookReceiver(t)
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	before := newOpsEnv(t, Config{Store: st, Webhooks: newDispatcher(t, secret, webhook.Options{AllowPrivate: true})})
	id := jobID(t, postV2Job(before, rcv.url+"/job")) // its queue never runs

	after := newOpsEnv(t, Config{Store: st, Webhooks: newDispatcher(t, secret, webhook.Options{AllowPrivate: true})})
	after.runQueue()
	d := rcv.next(t)
	if gotID, status := checkDelivery(t, secret, d, "job.succeeded"); gotID != id || status != "succeeded" || d.path != "/job" {
		t.Errorf("%s: job %s %s, want %s succeeded", d.path, gotID, status, id)
	}
}
