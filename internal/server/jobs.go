package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyfmt"
	"github.com/gocomfy/gocomfy/pyjson"
)

// parseJobQuery reads /api/jobs' query with ComfyUI's rules and messages.
func parseJobQuery(r *http.Request) (store.JobQuery, *int, error) {
	v := r.URL.Query()
	q := store.JobQuery{SortBy: store.SortCreatedAt}
	if s := v.Get("status"); s != "" {
		var bad []string
		for _, part := range strings.Split(s, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			if part == "" {
				continue
			}
			if st := store.Status(part); st.Valid() {
				q.Statuses = append(q.Statuses, st)
			} else {
				bad = append(bad, part)
			}
		}
		if len(bad) > 0 {
			return q, nil, errorf(http.StatusBadRequest,
				"Invalid status value(s): %s. Valid values: pending, in_progress, completed, failed, cancelled",
				strings.Join(bad, ", "))
		}
	}
	q.WorkflowID = v.Get("workflow_id")
	switch strings.ToLower(v.Get("sort_by")) {
	case "", "created_at", "create_time":
	case "execution_duration", "execution_time":
		q.SortBy = store.SortExecutionDuration
	default:
		return q, nil, errorf(http.StatusBadRequest, "sort_by must be 'created_at' or 'execution_duration'")
	}
	switch strings.ToLower(v.Get("sort_order")) {
	case "", "desc":
	case "asc":
		q.Ascending = true
	default:
		return q, nil, errorf(http.StatusBadRequest, "sort_order must be 'asc' or 'desc'")
	}
	var limit *int
	if s, ok := v["limit"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s[0]))
		if err != nil {
			return q, nil, errorf(http.StatusBadRequest, "limit must be an integer")
		}
		if n <= 0 {
			return q, nil, errorf(http.StatusBadRequest, "limit must be a positive integer")
		}
		q.Limit, limit = n, &n
	}
	if s, ok := v["offset"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s[0]))
		if err != nil {
			return q, nil, errorf(http.StatusBadRequest, "offset must be an integer")
		}
		q.Offset = max(n, 0)
	}
	return q, limit, nil
}

// getJobs is GET /api/jobs.
func (s *Server) getJobs(w http.ResponseWriter, r *http.Request) error {
	q, limit, err := parseJobQuery(r)
	if err != nil {
		return err
	}
	jobs, total, err := s.cfg.Store.Jobs(r.Context(), q)
	if err != nil {
		return err
	}
	views := make([]any, len(jobs))
	for i, j := range jobs {
		views[i] = queue.JobView(j, false)
	}
	var limitValue any
	if limit != nil {
		limitValue = *limit
	}
	writeJSON(w, http.StatusOK, pyjson.Object{
		{Key: "jobs", Value: views},
		{Key: "pagination", Value: pyjson.Object{
			{Key: "offset", Value: q.Offset}, {Key: "limit", Value: limitValue},
			{Key: "total", Value: total}, {Key: "has_more", Value: q.Offset+len(jobs) < total},
		}},
	})
	return nil
}

// getJob is GET /api/jobs/{job_id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.cfg.Store.Get(r.Context(), r.PathValue("job_id"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "Job not found")
	}
	if err != nil {
		return err
	}
	// gocomfy's addition, after ComfyUI's keys: the job's timing (v2timing.go).
	writeJSON(w, http.StatusOK, append(queue.JobView(j, true), pyjson.Field{Key: "timing", Value: timingView(j, time.Now())}))
	return nil
}

// cancelJob is POST /api/jobs/{job_id}/cancel.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	ok, err := s.cfg.Queue.Cancel(r.Context(), r.PathValue("job_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "cancelled", Value: ok}})
	return nil
}

// cancelJobs is POST /api/jobs/cancel {"job_ids": [...]}.
func (s *Server) cancelJobs(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var req any
	if decodeNumbers(body, &req) != nil {
		return errorf(http.StatusBadRequest, "Request body must be valid JSON")
	}
	obj, _ := req.(map[string]any)
	ids, ok := obj["job_ids"].([]any)
	if !ok {
		return errorf(http.StatusBadRequest, "job_ids must be a list")
	}
	var valid []string
	invalid := []string{}
	for _, v := range ids {
		id, isString := v.(string)
		if u, err := uuid.Parse(id); !isString || err != nil || u.String() != id {
			invalid = append(invalid, pyfmt.Str(v))
			continue
		}
		valid = append(valid, id)
	}
	if len(invalid) > 0 {
		return &httpError{http.StatusBadRequest, pyjson.Object{
			{Key: "error", Value: "job_ids contains invalid id(s)"}, {Key: "invalid_ids", Value: invalid},
		}}
	}
	cancelled := false
	for _, id := range valid {
		ok, err := s.cfg.Queue.Cancel(r.Context(), id)
		if err != nil {
			return err
		}
		cancelled = cancelled || ok
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "cancelled", Value: cancelled}})
	return nil
}
