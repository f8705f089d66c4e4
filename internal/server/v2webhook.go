package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Webhooks of the v2 jobs (internal/webhook does the sending). A job's
// own webhook_url is kept with the job in the store. A job is sent, as
// the Job object of GET /api/v2/jobs/{id}, to its webhook_url and to the
// server-wide URL once it is finished: when the queue's last event
// for it ({"node": null} executing, sent after the history is stored, so
// the job read then is final) arrives, or when a v2 cancel removes it
// while pending. The queue only emits that event for jobs with a client
// id: v2 jobs always have one, legacy /prompt jobs only if their client
// gave one, so the server-wide URL misses legacy jobs without one.
//
// GET /api/v2/jobs/{id}/webhooks lists the delivery attempts of a job
// (gocomfy's own route; the v2 spec has none): {"deliveries": [...]},
// oldest first, empty until the job is finished or when it has no target.

// webhookURL reads the webhook_url of a job request: "" if absent, a 422
// if webhooks are off or the URL may not be a target.
func (a *v2API) webhookURL(ctx context.Context, raw json.RawMessage) (string, error) {
	if !isPresent(raw) {
		return "", nil
	}
	if a.s.cfg.Webhooks == nil {
		return "", v2Error(http.StatusUnprocessableEntity, "invalid_request",
			"webhook_url: webhooks are not enabled on this server (--webhook-secret-file or $GOCOMFY_WEBHOOK_SECRET)", nil)
	}
	var u string
	if json.Unmarshal(raw, &u) != nil || u == "" {
		return "", v2Error(http.StatusUnprocessableEntity, "invalid_request", "webhook_url must be a URL string", nil)
	}
	if err := a.s.cfg.Webhooks.Check(ctx, u); err != nil {
		return "", v2Error(http.StatusUnprocessableEntity, "invalid_request", err.Error(), nil)
	}
	return u, nil
}

// subscribeWebhook makes url the webhook of job id, in the store (so
// that the instance that runs the job, after a restart maybe, sends it)
// and in this instance's dispatcher. The job may have finished before it
// was subscribed, so a finished job is sent at once (the dispatcher sends
// each target a job once).
func (a *v2API) subscribeWebhook(ctx context.Context, id, url string) error {
	if err := a.s.cfg.Store.SetWebhookURL(ctx, id, url); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err // not found: cancelled meanwhile, and the dispatcher still learns of it
	}
	a.s.cfg.Webhooks.Subscribe(id, url)
	if j, err := a.job(ctx, id); err == nil && j.Status.Finished() {
		a.webhookFinished(ctx, id, url)
	}
	return nil
}

// watchWebhooks follows the engine events for the ends of jobs. The
// store is read off the executor's goroutine, which the watcher must not
// hold up.
func (a *v2API) watchWebhooks() {
	if a.s.cfg.Webhooks == nil || a.s.cfg.Sink == nil {
		return
	}
	a.s.cfg.Sink.Watch(func(e executor.Event) {
		if e.Type != "executing" {
			return
		}
		node, _ := e.Data.Get("node")
		id, _ := e.Data.Get("prompt_id")
		if s, ok := id.(string); ok && node == nil && s != "" {
			go a.webhookFinished(context.Background(), s, "")
		}
	})
}

// webhookFinished sends finished job id to its webhook targets, if any:
// its own URL hook, read from the store when "", and the server-wide one.
func (a *v2API) webhookFinished(ctx context.Context, id, hook string) {
	if a.s.cfg.Webhooks == nil {
		return
	}
	if hook == "" {
		if j, err := a.s.cfg.Store.Get(ctx, id); err == nil {
			hook = j.WebhookURL
		}
	}
	if hook != "" {
		a.s.cfg.Webhooks.Subscribe(id, hook)
	}
	a.s.cfg.Webhooks.Finished(id, a.webhookJob)
}

// webhookJob is the webhook.JobFunc: the job's status and Job object.
func (a *v2API) webhookJob(ctx context.Context, id string) (string, []byte, error) {
	view, err := a.view(ctx, id)
	if err != nil {
		return "", nil, err
	}
	status, _ := view.Get("status")
	s, _ := status.(string)
	body, err := pyjson.Marshal(view)
	return s, body, err
}

// getWebhooks is GET /api/v2/jobs/{id}/webhooks.
func (a *v2API) getWebhooks(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := a.job(r.Context(), id); err != nil {
		return err
	}
	list := []any{}
	if a.s.cfg.Webhooks != nil {
		for _, d := range a.s.cfg.Webhooks.Deliveries(id) {
			var code, errText any
			if d.StatusCode != 0 {
				code = d.StatusCode
			}
			if d.Error != "" {
				errText = d.Error
			}
			list = append(list, pyjson.Object{
				{Key: "message_id", Value: d.MessageID}, {Key: "target", Value: d.Target}, {Key: "url", Value: d.URL},
				{Key: "attempt", Value: d.Attempt}, {Key: "at", Value: timestamp(d.Time.UnixMilli())},
				{Key: "duration_ms", Value: d.Duration.Milliseconds()}, {Key: "status_code", Value: code},
				{Key: "error", Value: errText}, {Key: "outcome", Value: d.Outcome},
			})
		}
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "deliveries", Value: list}})
	return nil
}
