package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/pyjson"
)

// getEvents is GET /api/v2/jobs/{id}/events: Server-Sent Events. On
// connect the current status, progress and newest preview (as the spec
// orders them); then a status event on every change of status or queue
// position, a progress event on every new snapshot, a preview event on
// every new preview (the newest when several came between two wake-ups),
// an output event per output as it appears, until the terminal status
// event, which comes last. Every event is derived from the job view and
// the tracker, so a missed wake-up only delays an event until the next
// one (or the keep-alive).
func (a *v2API) getEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	wake, stop := a.tracker.watch(id) // before the first view: nothing is missed
	defer stop()
	view, err := a.view(r.Context(), id)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var lastStatus, lastProgress []byte
	lastPreview := 0
	sent := map[string]bool{}
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		status, _ := view.Get("status")
		position, _ := view.Get("queue_position")
		terminal := status == "succeeded" || status == "canceled" || status == "failed" || status == "expired"
		sendStatus := func() {
			data, err := pyjson.Marshal(pyjson.Object{{Key: "status", Value: status}, {Key: "queue_position", Value: position}})
			if err == nil && !bytes.Equal(data, lastStatus) {
				lastStatus = data
				writeSSE(w, "status", data)
			}
		}
		if !terminal {
			sendStatus()
		}
		if outputs, _ := view.Get("outputs"); outputs != nil {
			for _, o := range outputs.([]any) {
				key, err := pyjson.Marshal(o)
				if err != nil || sent[string(key)] {
					continue
				}
				sent[string(key)] = true
				writeSSE(w, "output", key)
			}
		}
		if progress, _ := view.Get("progress"); progress != nil {
			if data, err := pyjson.Marshal(progress); err == nil && !bytes.Equal(data, lastProgress) {
				lastProgress = data
				writeSSE(w, "progress", data)
			}
		}
		if live, ok := a.tracker.snapshot(id); ok && live.preview.n > lastPreview {
			lastPreview = live.preview.n
			if data, err := previewEvent(live.preview); err == nil {
				writeSSE(w, "preview", data)
			}
		}
		if terminal {
			sendStatus()
		}
		if err := rc.Flush(); err != nil || terminal {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-wake:
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		if view, err = a.view(r.Context(), id); err != nil {
			return nil // the job left the history: the stream just ends
		}
	}
}

// previewEvent is the spec's PreviewEvent of a preview image: JPEG, as
// ComfyUI sends previews, base64. One from another instance is JPEG
// already.
func previewEvent(p previewFrame) ([]byte, error) {
	var jpg []byte
	if remote, ok := p.img.(*event.JPEG); ok {
		jpg = remote.Data
	} else {
		var buf bytes.Buffer
		if _, err := imageio.EncodePreview(&buf, p.img, imageio.Preview{Format: "jpeg", Quality: 95, RGB: true}); err != nil {
			return nil, err
		}
		jpg = buf.Bytes()
	}
	return pyjson.Marshal(pyjson.Object{{Key: "node_id", Value: p.node}, {Key: "content_type", Value: "image/jpeg"},
		{Key: "data_base64", Value: base64.StdEncoding.EncodeToString(jpg)}})
}

// writeSSE writes one event; data is one line of JSON.
func writeSSE(w http.ResponseWriter, event string, data []byte) {
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
}
