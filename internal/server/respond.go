package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/gocomfy/gocomfy/pyjson"
)

// handlerFunc is an HTTP handler that returns an error; serve turns the
// error into a response, so handlers never write error bodies themselves.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is an error with the status and the JSON body to answer.
type httpError struct {
	status int
	body   any
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %v", e.status, e.body) }

// errorf is a 4xx with the {"error": "..."} body of ComfyUI's jobs API.
func errorf(status int, format string, args ...any) error {
	return &httpError{status, pyjson.Object{{Key: "error", Value: fmt.Sprintf(format, args...)}}}
}

// payloadTooLarge is the 413 of a body over the limit.
func payloadTooLarge(limit int64) *httpError {
	return &httpError{http.StatusRequestEntityTooLarge,
		pyjson.Object{{Key: "error", Value: fmt.Sprintf("Maximum request body size %d exceeded", limit)}}}
}

// serve adapts a handlerFunc: a *httpError is written as is; any other error
// is a 500 whose details go to the log, not to the client.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		if errors.As(err, &he) {
			writeJSON(w, he.status, he.body)
			return
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			he = payloadTooLarge(tooBig.Limit)
			writeJSON(w, he.status, he.body)
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // see limitBody
			writeJSON(w, http.StatusRequestTimeout, pyjson.Object{{Key: "error",
				Value: fmt.Sprintf("The request body stalled for %v", s.bodyIdle)}})
			return
		}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, pyjson.Object{{Key: "error", Value: "internal server error"}})
	})
}

// writeJSON writes v as Python's json.dumps would.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := pyjson.Marshal(v)
	if err != nil {
		slog.Error("encoding a response", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error": "internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// writeEmpty answers as aiohttp's web.Response(status=N) does.
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// readBody reads a whole request body (already limited by the max upload
// size middleware).
func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(r.Body)
}

// decodeJSONObject reads a JSON object body whatever the Content-Type says
// (clients send text/plain too). ComfyUI answers 500 to malformed JSON;
// gocomfy answers 400 with a JSON error.
func decodeJSONObject(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "Request body must be a valid JSON object: %v", err)
	}
	return nil
}

// decodeNumbers decodes JSON keeping numbers as json.Number, so that an
// int stays an int when printed the Python way (pyfmt).
func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
