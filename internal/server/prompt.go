package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gocomfy/gocomfy/internal/graph"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

func (s *Server) getPrompt(w http.ResponseWriter, r *http.Request) error {
	data := queue.StatusData(s.cfg.Queue.Remaining(r.Context()))
	status, _ := data.Get("status")
	writeJSON(w, http.StatusOK, status)
	return nil
}

// promptError is ComfyUI's POST /prompt error body.
func promptError(status int, e graph.Error, nodeErrors graph.NodeErrors) error {
	if nodeErrors == nil {
		nodeErrors = graph.NodeErrors{}
	}
	return &httpError{status, pyjson.Object{{Key: "error", Value: e}, {Key: "node_errors", Value: nodeErrors}}}
}

// postPrompt is POST /prompt: validate and queue.
func (s *Server) postPrompt(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var req struct {
		Prompt   json.RawMessage `json:"prompt"`
		PromptID json.RawMessage `json:"prompt_id"`
		Number   json.RawMessage `json:"number"`
		Front    json.RawMessage `json:"front"`
		ClientID json.RawMessage `json:"client_id"`
		Extra    json.RawMessage `json:"extra_data"`
		Targets  json.RawMessage `json:"partial_execution_targets"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return promptError(http.StatusBadRequest, graph.Error{Type: "invalid_json",
			Message: "Invalid JSON in request body", Details: err.Error(), ExtraInfo: pyjson.Object{}}, nil)
	}
	bad := func(details string) error {
		return promptError(http.StatusBadRequest, graph.Error{Type: "invalid_prompt",
			Message: "Invalid request", Details: details, ExtraInfo: pyjson.Object{}}, nil)
	}
	userID, err := s.userID(r)
	if err != nil {
		return err
	}
	sub := queue.Submission{UsageSource: r.Header.Get("Comfy-Usage-Source"), UserID: userID}
	if isPresent(req.Prompt) {
		sub.Prompt = req.Prompt
	}
	if isPresent(req.PromptID) {
		if json.Unmarshal(req.PromptID, &sub.PromptID) != nil || sub.PromptID == "" {
			sub.PromptID = string(req.PromptID) // rejected as invalid_prompt_id below
		}
	}
	if isPresent(req.Number) {
		n, err := pythonFloat(req.Number)
		if err != nil {
			return bad("number must be a number")
		}
		sub.Number = &n
	}
	sub.Front = truthy(req.Front)
	if isPresent(req.ClientID) && json.Unmarshal(req.ClientID, &sub.ClientID) != nil {
		return bad("client_id must be a string")
	}
	if isPresent(req.Extra) {
		sub.ExtraData = req.Extra
	}
	if isPresent(req.Targets) {
		if json.Unmarshal(req.Targets, &sub.Targets) != nil {
			return bad("partial_execution_targets must be a list of node ids")
		}
		if sub.Targets == nil {
			sub.Targets = []string{}
		}
	}
	acc, err := s.cfg.Queue.Submit(r.Context(), sub)
	var rejected *queue.Rejected
	switch {
	case errors.As(err, &rejected):
		return promptError(http.StatusBadRequest, rejected.Err, rejected.NodeErrors)
	case errors.Is(err, queue.ErrQueueFull):
		w.Header().Set("Retry-After", "5")
		return errorf(http.StatusTooManyRequests, "The queue is full; retry later")
	case err != nil:
		return err
	}
	nodeErrors := acc.NodeErrors
	if nodeErrors == nil {
		nodeErrors = graph.NodeErrors{}
	}
	var number any = int64(acc.Number)
	if acc.NumberIsFloat {
		number = pyjson.Float(acc.Number)
	}
	writeJSON(w, http.StatusOK, pyjson.Object{
		{Key: "prompt_id", Value: acc.PromptID}, {Key: "number", Value: number}, {Key: "node_errors", Value: nodeErrors},
	})
	return nil
}

func isPresent(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// pythonFloat converts a JSON number or numeric string as Python's float().
func pythonFloat(raw json.RawMessage) (float64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case float64:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case string:
		return strconv.ParseFloat(v, 64)
	}
	return 0, errors.New("not a number")
}

// truthy is Python truthiness of a JSON value.
func truthy(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return false
}

// getQueue is GET /queue: the running and the pending prompts.
func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) error {
	running, pending, err := s.cfg.Store.Queue(r.Context())
	if err != nil {
		return err
	}
	items := func(jobs []*store.Job) []any {
		out := make([]any, len(jobs))
		for i, j := range jobs {
			out[i] = queue.QueueItem(j)
		}
		return out
	}
	writeJSON(w, http.StatusOK, pyjson.Object{
		{Key: "queue_running", Value: items(running)}, {Key: "queue_pending", Value: items(pending)},
	})
	return nil
}

// clearDelete is the body of POST /queue and POST /history.
type clearDelete struct {
	Clear  json.RawMessage `json:"clear"`
	Delete []string        `json:"delete"`
}

func (s *Server) postQueue(w http.ResponseWriter, r *http.Request) error {
	var req clearDelete
	if err := decodeJSONObject(r, &req); err != nil {
		return err
	}
	if truthy(req.Clear) {
		if err := s.cfg.Queue.Clear(r.Context()); err != nil {
			return err
		}
	}
	if len(req.Delete) > 0 {
		if err := s.cfg.Queue.Delete(r.Context(), req.Delete); err != nil {
			return err
		}
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

// postInterrupt is POST /interrupt: a body that is not JSON counts as {}.
func (s *Server) postInterrupt(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var req struct {
		PromptID any `json:"prompt_id"`
	}
	json.Unmarshal(body, &req)
	id, _ := req.PromptID.(string)
	if id != "" {
		if !s.cfg.Queue.Interrupt(id) {
			s.log.Info("interrupt ignored: prompt is not running", "prompt_id", id)
		}
	} else {
		s.cfg.Queue.Interrupt("")
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

func (s *Server) postFree(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		UnloadModels bool `json:"unload_models"`
		FreeMemory   bool `json:"free_memory"`
	}
	if err := decodeJSONObject(r, &req); err != nil {
		return err
	}
	if req.FreeMemory {
		s.cfg.Queue.Free()
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

// getHistory is GET /history?max_items=&offset=: oldest first.
func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) error {
	q := store.HistoryQuery{MaxItems: -1, Offset: -1}
	var err error
	if v := r.URL.Query().Get("max_items"); v != "" {
		if q.MaxItems, err = strconv.Atoi(v); err != nil {
			return errorf(http.StatusBadRequest, "max_items must be an integer")
		}
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		if q.Offset, err = strconv.Atoi(v); err != nil {
			return errorf(http.StatusBadRequest, "offset must be an integer")
		}
	}
	// ComfyUI checks max_items after adding an entry, so max_items <= 0
	// with a non-negative offset gives one entry, and none otherwise.
	if r.URL.Query().Get("max_items") != "" && q.MaxItems <= 0 {
		q.MaxItems = 0
		if q.Offset >= 0 {
			q.MaxItems = 1
		}
	}
	jobs, err := s.cfg.Store.History(r.Context(), q)
	if err != nil {
		return err
	}
	out := make(pyjson.Object, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, pyjson.Field{Key: j.ID, Value: queue.HistoryEntry(j)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getHistoryItem is GET /history/{prompt_id}: {} while unknown, queued or running.
func (s *Server) getHistoryItem(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("prompt_id")
	j, err := s.cfg.Store.Get(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusOK, pyjson.Object{})
		return nil
	case err != nil:
		return err
	}
	if !j.Status.Finished() {
		writeJSON(w, http.StatusOK, pyjson.Object{})
		return nil
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: id, Value: queue.HistoryEntry(j)}})
	return nil
}

func (s *Server) postHistory(w http.ResponseWriter, r *http.Request) error {
	var req clearDelete
	if err := decodeJSONObject(r, &req); err != nil {
		return err
	}
	if truthy(req.Clear) {
		if err := s.cfg.Store.ClearHistory(r.Context()); err != nil {
			return err
		}
	}
	if len(req.Delete) > 0 {
		if err := s.cfg.Store.DeleteHistory(r.Context(), req.Delete); err != nil {
			return err
		}
	}
	writeEmpty(w, http.StatusOK)
	return nil
}
