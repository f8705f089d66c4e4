package queue

import (
	"encoding/json"
	"strings"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// number renders a job's number as ComfyUI does: float() of a client's
// "number", the counter's int otherwise.
func number(j *store.Job) any {
	if j.NumberIsFloat {
		return pyjson.Float(j.Number)
	}
	return int64(j.Number)
}

func raw(b json.RawMessage, empty string) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(empty)
	}
	return b
}

// QueueItem is a /queue entry: [number, prompt_id, prompt, extra_data,
// outputs_to_execute] (the sensitive sixth element is never shown).
func QueueItem(j *store.Job) []any {
	outputs := j.OutputsToExecute
	if outputs == nil {
		outputs = []string{}
	}
	return []any{number(j), j.ID, raw(j.Prompt, "{}"), raw(j.ExtraData, "{}"), outputs}
}

// HistoryEntry is a /history entry: prompt, outputs, status, meta.
func HistoryEntry(j *store.Job) pyjson.Object {
	status := pyjson.Object{
		{Key: "status_str", Value: j.StatusStr},
		{Key: "completed", Value: j.Status == store.Completed},
		{Key: "messages", Value: raw(j.Messages, "[]")},
	}
	return pyjson.Object{
		{Key: "prompt", Value: QueueItem(j)},
		{Key: "outputs", Value: raw(j.Outputs, "{}")},
		{Key: "status", Value: status},
		{Key: "meta", Value: raw(j.Meta, "{}")},
	}
}

// JobView is a /api/jobs entry; with detail, the /api/jobs/{id} one
// (outputs, execution_status and workflow for finished jobs). Absent values
// are omitted, as ComfyUI prunes None.
func JobView(j *store.Job, detail bool) pyjson.Object {
	o := pyjson.Object{
		{Key: "id", Value: j.ID},
		{Key: "status", Value: string(j.Status)},
		{Key: "priority", Value: number(j)},
		{Key: "create_time", Value: j.CreateTime},
	}
	if j.Status.Finished() {
		if start, ok := messageTime(j.Messages, "execution_start"); ok {
			o = append(o, pyjson.Field{Key: "execution_start_time", Value: start})
		}
		for _, end := range []string{"execution_success", "execution_error", "execution_interrupted"} {
			if t, ok := messageTime(j.Messages, end); ok {
				o = append(o, pyjson.Field{Key: "execution_end_time", Value: t})
				break
			}
		}
		if len(j.ExecutionError) > 0 {
			o = append(o, pyjson.Field{Key: "execution_error", Value: j.ExecutionError})
		}
	}
	o = append(o, pyjson.Field{Key: "outputs_count", Value: j.OutputsCount})
	if len(j.PreviewOutput) > 0 {
		o = append(o, pyjson.Field{Key: "preview_output", Value: j.PreviewOutput})
	}
	if j.WorkflowID != "" {
		o = append(o, pyjson.Field{Key: "workflow_id", Value: j.WorkflowID})
	}
	if detail && j.Status.Finished() {
		o = append(o,
			pyjson.Field{Key: "outputs", Value: raw(j.Outputs, "{}")},
			pyjson.Field{Key: "execution_status", Value: pyjson.Object{
				{Key: "status_str", Value: j.StatusStr},
				{Key: "completed", Value: j.Status == store.Completed},
				{Key: "messages", Value: raw(j.Messages, "[]")},
			}},
			pyjson.Field{Key: "workflow", Value: pyjson.Object{
				{Key: "prompt", Value: raw(j.Prompt, "{}")},
				{Key: "extra_data", Value: raw(j.ExtraData, "{}")},
			}},
		)
	}
	return o
}

// messageTime returns the timestamp of the first status message of type typ.
func messageTime(messages json.RawMessage, typ string) (int64, bool) {
	var msgs [][2]json.RawMessage
	if json.Unmarshal(messages, &msgs) != nil {
		return 0, false
	}
	for _, m := range msgs {
		var t string
		if json.Unmarshal(m[0], &t) != nil || t != typ {
			continue
		}
		var data struct {
			Timestamp *int64 `json:"timestamp"`
		}
		if json.Unmarshal(m[1], &data) == nil && data.Timestamp != nil {
			return *data.Timestamp, true
		}
	}
	return 0, false
}

var modelExtensions = []string{".obj", ".fbx", ".gltf", ".glb", ".usdz"}

func is3D(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range modelExtensions {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// summarizeOutputs computes outputs_count and preview_output as ComfyUI's
// get_outputs_summary does, over outputs in node order then key order.
func summarizeOutputs(outputs pyjson.Object) (count int, preview json.RawMessage) {
	var first, fallback pyjson.Object
	var textFallback pyjson.Object
	for _, nodeField := range outputs {
		ui, ok := asObject(nodeField.Value)
		if !ok {
			continue
		}
		for _, kv := range ui {
			if kv.Key == "animated" {
				continue
			}
			items, ok := asList(kv.Value)
			if !ok {
				continue
			}
			for _, item := range items {
				entry, isDict := asObject(item)
				if !isDict {
					s, isString := item.(string)
					switch {
					case isString && is3D(s):
						entry = pyjson.Object{{Key: "filename", Value: s}, {Key: "type", Value: "output"},
							{Key: "subfolder", Value: ""}, {Key: "mediaType", Value: "3d"}}
					case kv.Key == "text":
						count++
						if textFallback == nil && isString {
							content, truncated := s, false
							if r := []rune(s); len(r) > 1024 {
								content, truncated = string(r[:1024]), true
							}
							textFallback = pyjson.Object{{Key: "content", Value: content}}
							if truncated {
								textFallback.Set("truncated", true)
							}
							textFallback.Set("nodeId", nodeField.Key)
							textFallback.Set("mediaType", "text")
						}
						continue
					default:
						continue
					}
				}
				count++
				if !previewable(kv.Key, entry) {
					continue
				}
				p := append(pyjson.Object{}, entry...)
				p.Set("nodeId", nodeField.Key)
				if _, ok := p.Get("mediaType"); !ok {
					p.Set("mediaType", kv.Key)
				}
				if t, _ := entry.Get("type"); t == "output" && first == nil {
					first = p
				} else if fallback == nil {
					fallback = p
				}
			}
		}
	}
	switch {
	case first != nil:
		preview, _ = json.Marshal(first)
	case fallback != nil:
		preview, _ = json.Marshal(fallback)
	case textFallback != nil:
		preview, _ = json.Marshal(textFallback)
	}
	return count, preview
}

func previewable(key string, entry pyjson.Object) bool {
	switch key {
	case "images", "video", "audio", "3d", "text":
		return true
	}
	if f, ok := entry.Get("format"); ok {
		if s, ok := f.(string); ok && (strings.HasPrefix(s, "video/") || strings.HasPrefix(s, "audio/")) {
			return true
		}
	}
	if f, ok := entry.Get("filename"); ok {
		if s, ok := f.(string); ok && is3D(s) {
			return true
		}
	}
	return false
}

// asObject and asList read UI values, which are Go values built by nodes
// (pyjson.Object, map[string]any, []any) or raw JSON from the store.
func asObject(v any) (pyjson.Object, bool) {
	switch v := v.(type) {
	case pyjson.Object:
		return v, true
	case map[string]any:
		o := pyjson.Object{}
		for k, e := range v {
			o.Set(k, e)
		}
		return o, true
	case json.RawMessage:
		o, err := pyjson.DecodeObject(v)
		if err != nil {
			return nil, false
		}
		for i := range o {
			o[i].Value = decodeRaw(o[i].Value.(json.RawMessage))
		}
		return o, true
	}
	return nil, false
}

func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case json.RawMessage:
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			return nil, false
		}
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = decodeRaw(e)
		}
		return out, true
	}
	return nil, false
}

// decodeRaw keeps objects raw (for asObject, in order) and decodes scalars.
func decodeRaw(r json.RawMessage) any {
	trimmed := strings.TrimSpace(string(r))
	if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
		return r
	}
	var v any
	json.Unmarshal(r, &v)
	return v
}
