package asset

import (
	"context"
	"encoding/json"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Outputs are registered as assets where the engine reports them, with no
// change to the queue or the executor: RecordOutputs wraps the job store
// (the history), Sink wraps the executor's event sink (the executed
// messages). Each file entry of a node's UI ({"filename", "subfolder",
// "type"}) in the input or output folder is registered with the prompt as
// its job and gains "id", its reference's id, as ComfyUI adds it. Temp
// previews are left out: the temp folder is emptied at every start.

// EnrichUI registers the files a node's UI output names and returns the UI
// with their ids; the UI itself is not changed. ok is false when it names
// no file that could be registered.
func (l *Library) EnrichUI(ctx context.Context, ui json.RawMessage, jobID string) (out json.RawMessage, ok bool) {
	o, err := pyjson.DecodeObject(ui)
	if err != nil {
		return nil, false
	}
	for i, f := range o {
		var entries []json.RawMessage
		if json.Unmarshal(f.Value.(json.RawMessage), &entries) != nil {
			continue
		}
		changed := false
		for j, e := range entries {
			if id := l.registerEntry(ctx, e, jobID); id != "" {
				entries[j], _ = setKey(e, "id", id)
				changed = true
			}
		}
		if changed {
			o[i].Value = entries
			ok = true
		}
	}
	if !ok {
		return nil, false
	}
	out, err = json.Marshal(o)
	return out, err == nil
}

// registerEntry registers the file of one UI entry and returns its
// reference's id, or "" when the entry names no file of input or output.
func (l *Library) registerEntry(ctx context.Context, e json.RawMessage, jobID string) string {
	var entry struct {
		Filename  *string `json:"filename"`
		Subfolder string  `json:"subfolder"`
		Type      string  `json:"type"`
	}
	if json.Unmarshal(e, &entry) != nil || entry.Filename == nil {
		return ""
	}
	t := files.Type(entry.Type)
	if t != files.Input && t != files.Output {
		return ""
	}
	loc, err := l.cfg.Folders.Resolve(t, entry.Subfolder, *entry.Filename)
	if err != nil {
		return ""
	}
	r, err := l.RegisterFile(ctx, t, loc.Name, FileOptions{Name: *entry.Filename, JobID: jobID, Origin: "automatic"})
	if err != nil {
		l.log.Warn("registering an output as an asset", "file", loc.Name, "err", err)
		return ""
	}
	return r.ID
}

// setKey returns the JSON object e with key set (appended when new).
func setKey(e json.RawMessage, key string, value any) (json.RawMessage, error) {
	o, err := pyjson.DecodeObject(e)
	if err != nil {
		return nil, err
	}
	o.Set(key, value)
	return json.Marshal(o)
}

// RecordOutputs returns st with Finish registering the files of a job's
// outputs and adding their ids to the history it records.
func (l *Library) RecordOutputs(st store.Store) store.Store {
	return &outputRecorder{Store: st, lib: l}
}

type outputRecorder struct {
	store.Store
	lib *Library
}

// Finish registers the outputs' files, then records the result with their ids.
func (o *outputRecorder) Finish(ctx context.Context, worker, id string, r store.Result) error {
	if nodes, err := pyjson.DecodeObject(r.Outputs); err == nil {
		changed := false
		for i, n := range nodes {
			if ui, ok := o.lib.EnrichUI(ctx, n.Value.(json.RawMessage), id); ok {
				nodes[i].Value = ui
				changed = true
			}
		}
		if changed {
			if b, err := json.Marshal(nodes); err == nil {
				r.Outputs = b
			}
		}
	}
	return o.Store.Finish(ctx, worker, id, r)
}

// Sink returns next with the executed events' outputs registered and
// given their ids before they are sent.
func (l *Library) Sink(next executor.Sink) executor.Sink {
	return executor.SinkFunc(func(e executor.Event) {
		if e.Type == "executed" {
			e.Data = l.enrichExecuted(e.Data)
		}
		next.Event(e)
	})
}

// enrichExecuted returns a copy of an executed event's data with its
// output enriched; data itself is shared with the history and must not
// change.
func (l *Library) enrichExecuted(data pyjson.Object) pyjson.Object {
	output, _ := data.Get("output")
	promptID, _ := data.Get("prompt_id")
	jobID, _ := promptID.(string)
	raw, err := json.Marshal(output)
	if err != nil || output == nil {
		return data
	}
	ui, ok := l.EnrichUI(context.Background(), raw, jobID)
	if !ok {
		return data
	}
	out := make(pyjson.Object, len(data))
	copy(out, data)
	out.Set("output", ui)
	return out
}
