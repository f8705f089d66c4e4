package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/pyjson"
)

// WebSocket limits: ComfyUI's inbound limit, and gocomfy's keep-alive.
const (
	wsReadLimit    = 4 << 20
	wsPingInterval = 20 * time.Second
	wsWriteTimeout = 10 * time.Second
)

// handleWS serves /ws: the status frame with the session id first, the
// feature-flags exchange, then the events addressed to this client.
//
// A client that opts in to gocomfy's replay (query replay=1, or since=P:N,
// repeatable) also gets numbered events, replay_state messages and the
// answers to its replay requests: see event.Sink.ConnectReplay and the
// README's "WebSocket replay".
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	since, err := event.ParseSince(query["since"])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	replay := query.Get("replay") == "1" || len(since) > 0
	// Origins are checked by the middleware: originCheck (ComfyUI's) and
	// crossOrigin, which checks the upgrade as a request that changes state.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	conn.SetReadLimit(wsReadLimit)

	sid := query.Get("clientId")
	if sid == "" {
		sid = strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	status := queue.StatusData(s.cfg.Queue.Remaining(r.Context()))
	status = append(status, pyjson.Field{Key: "sid", Value: sid})
	first := []event.Frame{s.textFrame("status", status)}
	if node, ok := s.cfg.Sink.Executing(sid); ok {
		// ComfyUI's reconnect frame has neither display_node nor prompt_id.
		first = append(first, s.textFrame("executing", pyjson.Object{{Key: "node", Value: node}}))
	}
	var outbox *event.Outbox
	if replay {
		outbox = s.cfg.Sink.ConnectReplay(sid, since, first...)
	} else {
		outbox = s.cfg.Hub.Connect(sid, first...)
	}
	defer s.cfg.Hub.Disconnect(sid, outbox)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		s.readClient(ctx, conn, sid, outbox)
		cancel()
	}()
	go s.ping(ctx, conn)
	go func() {
		select {
		case <-outbox.Done(): // replaced by a newer connection, or cut off
		case <-ctx.Done():
		}
		cancel()
		outbox.Close()
	}()
	for {
		frames, ok := outbox.Next()
		if !ok {
			conn.Close(websocket.StatusNormalClosure, "")
			return
		}
		for _, f := range frames {
			typ, data := websocket.MessageText, f.Data
			if f.Binary {
				typ = websocket.MessageBinary
			}
			if replay {
				data = f.Numbered()
			}
			wctx, wcancel := context.WithTimeout(ctx, wsWriteTimeout)
			err := conn.Write(wctx, typ, data)
			wcancel()
			if err != nil {
				return
			}
		}
	}
}

func (s *Server) textFrame(typ string, data any) event.Frame {
	b, err := event.Encode(typ, data)
	if err != nil {
		s.log.Error("encoding a websocket message", "type", typ, "err", err)
	}
	return event.Frame{Data: b}
}

// readClient reads the client's messages. As in ComfyUI, only the first
// text message that is a JSON object matters: {"type": "feature_flags"} is
// answered with the server's flags; invalid JSON does not use up that
// first message. A client that opted in to replay may also send
// {"type": "replay", "data": {"prompt_id": P, "after": N}} at any time.
func (s *Server) readClient(ctx context.Context, conn *websocket.Conn, sid string, outbox *event.Outbox) {
	first := true
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText || (!first && !outbox.Replay()) {
			continue
		}
		var msg struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		var probe any
		if json.Unmarshal(data, &probe) != nil {
			continue
		}
		if _, isObject := probe.(map[string]any); !isObject {
			continue
		}
		parsed := json.Unmarshal(data, &msg) == nil
		if parsed && msg.Type == "replay" && outbox.Replay() {
			// gocomfy's own message: it does not use up the first one,
			// which stays the client's feature flags.
			if p, err := event.ParsePosition(msg.Data); err == nil {
				s.cfg.Sink.Replay(sid, outbox, p)
			}
			continue
		}
		if first && parsed && msg.Type == "feature_flags" {
			var flags struct {
				PreviewMetadata bool `json:"supports_preview_metadata"`
			}
			json.Unmarshal(msg.Data, &flags)
			s.cfg.Sink.SetPreviewMetadata(sid, flags.PreviewMetadata)
			s.cfg.Hub.Send(sid, s.textFrame("feature_flags", s.features()))
		}
		first = false
	}
}

// ping keeps idle connections alive through proxies; a client that stops
// answering is disconnected.
func (s *Server) ping(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(wsPingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, wsPingInterval)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				conn.CloseNow()
				return
			}
		}
	}
}
