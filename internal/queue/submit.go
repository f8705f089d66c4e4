package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/internal/graph"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// A Submission is a POST /prompt body.
type Submission struct {
	Prompt   json.RawMessage // nil when absent
	PromptID string          // "" to let the server choose
	Number   *float64        // nil when absent
	Front    bool
	ClientID string
	// ExtraData is the body's extra_data object (nil when absent).
	ExtraData json.RawMessage
	// Targets is partial_execution_targets; nil when absent.
	Targets []string
	UserID  string
	// UsageSource is the Comfy-Usage-Source request header.
	UsageSource string
}

// Accepted describes a queued prompt.
type Accepted struct {
	PromptID      string
	Number        float64
	NumberIsFloat bool
	// NodeErrors lists outputs that failed validation and will not run.
	NodeErrors graph.NodeErrors
}

// Rejected is a submission that failed validation: ComfyUI's 400 body.
type Rejected struct {
	Err        graph.Error
	NodeErrors graph.NodeErrors
}

func (r *Rejected) Error() string { return r.Err.Type + ": " + r.Err.Message }

// sensitiveKeys are popped out of extra_data when a prompt is queued and
// merged back only to run it: they never appear in /queue, /history or /jobs.
var sensitiveKeys = []string{"auth_token_comfy_org", "api_key_comfy_org"}

func reject(typ, message, details string) *Rejected {
	return &Rejected{Err: graph.Error{Type: typ, Message: message, Details: details, ExtraInfo: pyjson.Object{}}}
}

// Submit validates and queues a prompt, following ComfyUI's order: the
// number is taken from the store's counter (shared by the instances)
// before anything can fail, then the prompt, its id and its nodes are
// checked. It returns a *Rejected error for invalid submissions,
// ErrQueueFull, or a store error.
func (q *Queue) Submit(ctx context.Context, s Submission) (*Accepted, error) {
	acc := &Accepted{}
	if s.Number != nil {
		acc.Number, acc.NumberIsFloat = *s.Number, true
	} else {
		n, err := q.cfg.Store.NextNumber(ctx)
		if err != nil {
			return nil, err
		}
		acc.Number = n
		if s.Front {
			acc.Number = -acc.Number
		}
	}

	if s.Prompt == nil {
		// Hyrum's law: ComfyUI's texts.
		return nil, reject("no_prompt", "No prompt provided", "No prompt provided")
	}
	acc.PromptID = s.PromptID
	if acc.PromptID == "" {
		acc.PromptID = uuid.NewString()
	} else if u, err := uuid.Parse(acc.PromptID); err != nil || u.String() != acc.PromptID {
		return nil, reject("invalid_prompt_id", "prompt_id must be a valid UUID",
			"prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one")
	}
	prompt, err := node.ParsePrompt(s.Prompt)
	if err != nil {
		return nil, reject("invalid_prompt", "Invalid prompt", fmt.Sprintf("The prompt is not a valid API-format workflow: %v", err))
	}
	res := graph.Validate(ctx, q.cfg.Registry, prompt, s.Targets)
	if res.Error != nil {
		return nil, &Rejected{Err: *res.Error, NodeErrors: res.NodeErrors}
	}
	acc.NodeErrors = res.NodeErrors

	if q.cfg.MaxPending > 0 {
		pending, _, err := q.cfg.Store.QueueLen(ctx)
		if err != nil {
			return nil, err
		}
		if pending >= q.cfg.MaxPending {
			return nil, ErrQueueFull
		}
	}
	job, err := q.newJob(s, acc, prompt, res.Outputs)
	if err != nil {
		return nil, err
	}
	if err := q.cfg.Store.Enqueue(ctx, job); err != nil {
		return nil, err
	}
	q.broadcastStatus()
	q.notify()
	return acc, nil
}

// newJob builds the stored job: extra_data is the body's, then client_id,
// then comfy_usage_source (from the header, unless set), without the
// sensitive keys, plus create_time.
func (q *Queue) newJob(s Submission, acc *Accepted, prompt *node.Prompt, outputs []string) (*store.Job, error) {
	extra := pyjson.Object{}
	if s.ExtraData != nil {
		var err error
		if extra, err = pyjson.DecodeObject(s.ExtraData); err != nil {
			return nil, reject("invalid_prompt", "Invalid extra_data", "extra_data must be a JSON object")
		}
	}
	if s.ClientID != "" {
		extra.Set("client_id", s.ClientID)
	}
	if _, ok := extra.Get("comfy_usage_source"); !ok && s.UsageSource != "" {
		extra.Set("comfy_usage_source", s.UsageSource)
	}
	sensitive := pyjson.Object{}
	for _, k := range sensitiveKeys {
		if v, ok := extra.Get(k); ok {
			sensitive.Set(k, v)
			extra.Delete(k)
		}
	}
	now := q.cfg.Now().UnixMilli()
	extra.Set("create_time", now)

	job := &store.Job{
		ID: acc.PromptID, Number: acc.Number, NumberIsFloat: acc.NumberIsFloat,
		OutputsToExecute: outputs, ClientID: clientIDOf(extra), WorkflowID: workflowIDOf(extra),
		UserID: s.UserID, Status: store.Pending, CreateTime: now,
	}
	var err error
	if job.Prompt, err = json.Marshal(prompt); err != nil {
		return nil, err
	}
	if job.ExtraData, err = json.Marshal(extra); err != nil {
		return nil, err
	}
	if len(sensitive) > 0 {
		if job.Sensitive, err = json.Marshal(sensitive); err != nil {
			return nil, err
		}
	}
	return job, nil
}

func clientIDOf(extra pyjson.Object) string {
	v, _ := extra.Get("client_id")
	switch v := v.(type) {
	case string:
		return v
	case json.RawMessage:
		var s string
		json.Unmarshal(v, &s)
		return s
	}
	return ""
}

// workflowIDOf returns extra_pnginfo.workflow.id, the jobs API's workflow_id.
func workflowIDOf(extra pyjson.Object) string {
	v, _ := extra.Get("extra_pnginfo")
	raw, ok := v.(json.RawMessage)
	if !ok {
		return ""
	}
	var info struct {
		Workflow struct {
			ID any `json:"id"`
		} `json:"workflow"`
	}
	if json.Unmarshal(raw, &info) != nil {
		return ""
	}
	id, _ := info.Workflow.ID.(string)
	return id
}
