package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocomfy/gocomfy/pyjson"
)

// Replay is gocomfy's opt-in answer to lost WebSocket messages: a client
// whose connection drops mid-prompt can get the events it missed.
//
// The sink numbers the JSON events addressed to a prompt's client: seq
// counts from 1 per prompt, assigned once by the instance that runs the
// prompt and carried by the bridge, so every instance agrees. Previews
// (binary frames) are not numbered: their layout has no room for a number
// and a newer preview supersedes them. Broadcast events (prompts without a
// client_id, status) are not numbered either.
//
// Every instance keeps the numbered events of each prompt in a bounded log
// (replayFrames events and replayBytes bytes per prompt, oldest dropped
// first), with the prompt's newest executing node and progress_state. A
// finished prompt's log is freed replayRetention after its end; at most
// replayPrompts finished logs are kept. A running prompt's log is kept
// until it ends (a prompt run elsewhere whose end never arrived: until it
// is idle for replayIdle), so the logs hold at most
// (replayPrompts + prompts running in the cluster) × replayBytes, plus one
// executing and one progress_state message per prompt. Each opted-in
// connection also keeps two numbers for each of the maxSent prompts it saw
// last, and at most maxPositions requests waiting (for replayWait at most)
// for events still on their way from another instance.
//
// Only a client that opted in (see Position and the README) sees any of
// this: its connection gets "seq" after "data" in each numbered event, a
// replay_state message per prompt of its own on connect, and the answers
// to its replay requests. Other clients get ComfyUI's bytes unchanged.
const (
	replayFrames    = 2048
	replayBytes     = 1 << 20
	replayPrompts   = 32
	replayRetention = 5 * time.Minute
	replayIdle      = time.Hour
	// replayWait bounds how long an instance waits for the events a
	// reconnecting client saw on another instance to reach it.
	replayWait = 5 * time.Second
	// maxPositions bounds the positions one connection may ask for at
	// once, and its requests waiting for events.
	maxPositions = 16
	// maxPromptID bounds the prompt ids accepted from clients.
	maxPromptID = 256
)

// ReplayFeature is the value of the server feature flag that advertises
// replay (extension.gocomfy.ws_replay), with its bounds.
func ReplayFeature() pyjson.Object {
	return pyjson.Object{
		{Key: "version", Value: 1},
		{Key: "max_events", Value: replayFrames},
		{Key: "max_bytes", Value: replayBytes},
		{Key: "retention_seconds", Value: int(replayRetention / time.Second)},
	}
}

// A Position names the last event of a prompt a client has seen: After is
// its seq, 0 when it has seen none.
type Position struct {
	Prompt string
	After  uint64
}

// ParsePosition parses the data of a client's replay request,
// {"prompt_id": "P", "after": N}; after may be left out (0).
func ParsePosition(data []byte) (Position, error) {
	var req struct {
		PromptID *string `json:"prompt_id"`
		After    *uint64 `json:"after"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return Position{}, err
	}
	if req.PromptID == nil {
		return Position{}, errors.New("replay: no prompt_id")
	}
	p := Position{Prompt: *req.PromptID}
	if req.After != nil {
		p.After = *req.After
	}
	return p, checkPromptID(p.Prompt)
}

// ParseSince parses the since query parameters of /ws, each "P:N" (the last
// colon splits, as prompt ids may hold colons).
func ParseSince(values []string) ([]Position, error) {
	if len(values) > maxPositions {
		return nil, errors.New("replay: too many since parameters")
	}
	out := make([]Position, 0, len(values))
	for _, v := range values {
		i := strings.LastIndexByte(v, ':')
		if i < 0 {
			return nil, errors.New("replay: since is not prompt_id:seq")
		}
		after, err := strconv.ParseUint(v[i+1:], 10, 64)
		if err != nil {
			return nil, errors.New("replay: since has no valid seq")
		}
		if err := checkPromptID(v[:i]); err != nil {
			return nil, err
		}
		out = append(out, Position{Prompt: v[:i], After: after})
	}
	return out, nil
}

func checkPromptID(id string) error {
	if id == "" || len(id) > maxPromptID {
		return errors.New("replay: prompt_id empty or too long")
	}
	return nil
}

// Numbered returns the bytes an opted-in client gets for f: a numbered JSON
// event gets "seq" after its data, {"type": ..., "data": ..., "seq": N}.
func (f Frame) Numbered() []byte {
	if f.Seq == 0 || f.Gap || f.Binary || !bytes.HasSuffix(f.Data, []byte("}")) {
		return f.Data
	}
	out := make([]byte, 0, len(f.Data)+24)
	out = append(out, f.Data[:len(f.Data)-1]...)
	out = append(out, `, "seq": `...)
	out = strconv.AppendUint(out, f.Seq, 10)
	return append(out, '}')
}

// promptLog is what an instance keeps of one prompt's numbered events.
type promptLog struct {
	sid      string
	frames   []Frame // by seq, oldest first; there may be holes (lost bridge messages)
	bytes    int
	last     uint64    // the newest seq seen
	node     *string   // display id of the running node, nil when none
	progress []byte    // data of the newest progress_state frame
	local    bool      // this instance numbers its events
	done     bool      // its executing(null) was seen
	updated  time.Time // the newest event's time (its end's, once done)
}

// replayLogs are the logs of the prompts an instance knows, by prompt id,
// and the replay requests waiting for events still on their way.
type replayLogs struct {
	prompts map[string]*promptLog
	now     func() time.Time // time.Now; tests replace it
	// waiting are the requests this instance cannot answer yet, by prompt
	// and outbox; waits counts them by outbox.
	waiting map[string]map[*Outbox]*replayWaiter
	waits   map[*Outbox]int
	wait    time.Duration // replayWait; tests shorten it
}

// A replayWaiter is a request of client sid, whose outbox is o, for the
// events of a prompt after seq after, which the client has seen but this
// instance has not received yet.
type replayWaiter struct {
	sid   string
	o     *Outbox
	after uint64
	timer *time.Timer
}

func (r *replayLogs) clock() time.Time {
	if r.now == nil {
		return time.Now()
	}
	return r.now()
}

// next returns the seq of the next event of prompt, which this instance
// runs for client sid. A prompt taken over from an instance that stopped
// goes on from the last event received from it.
func (r *replayLogs) next(prompt, sid string) uint64 {
	l := r.log(prompt, sid, true)
	l.local = true
	return l.last + 1
}

// log returns the log of prompt, created for client sid when missing.
func (r *replayLogs) log(prompt, sid string, local bool) *promptLog {
	l := r.prompts[prompt]
	if l == nil {
		if r.prompts == nil {
			r.prompts = map[string]*promptLog{}
		}
		r.sweep()
		l = &promptLog{sid: sid, local: local, updated: r.clock()}
		r.prompts[prompt] = l
	}
	return l
}

// record appends f, an event of type typ, to its prompt's log. It reports
// whether f is new (a frame repeated by the transport is not) and whether
// it ended the prompt.
func (r *replayLogs) record(sid, typ string, f Frame) (fresh, ended bool) {
	l := r.log(f.Prompt, sid, false)
	if f.Seq <= l.last {
		return false, false
	}
	l.last = f.Seq
	l.updated = r.clock()
	switch typ {
	case "executing":
		node, ok := executingNode(f.Data)
		if ok && node == nil && !l.done {
			l.done, ended = true, true
		}
		l.node = node
	case "progress_state":
		l.progress = f.Data
	}
	if len(f.Data) > replayBytes {
		return true, ended // too large to keep: replaying across it reports a gap
	}
	f.Coalesce = "" // a replayed event is never superseded on its way out
	l.frames = append(l.frames, f)
	l.bytes += len(f.Data)
	for len(l.frames) > replayFrames || l.bytes > replayBytes {
		l.bytes -= len(l.frames[0].Data)
		l.frames[0] = Frame{}
		l.frames = l.frames[1:]
	}
	return true, ended
}

// sweep forgets the logs past their retention, then the oldest finished
// ones past replayPrompts.
func (r *replayLogs) sweep() {
	now := r.clock()
	var oldest string
	finished := 0
	for id, l := range r.prompts {
		switch {
		case l.done && now.Sub(l.updated) >= replayRetention, !l.done && !l.local && now.Sub(l.updated) >= replayIdle:
			delete(r.prompts, id)
		case l.done:
			finished++
			if o := r.prompts[oldest]; o == nil || l.updated.Before(o.updated) {
				oldest = id
			}
		}
	}
	if finished > replayPrompts {
		delete(r.prompts, oldest) // one at most per new log: the count never grows past the bound
	}
}

// missing returns the events of l after seq after, or false when some of
// them are no longer kept.
func (l *promptLog) missing(after uint64) ([]Frame, bool) {
	if after >= l.last {
		return nil, true
	}
	i := len(l.frames)
	for i > 0 && l.frames[i-1].Seq > after {
		i--
	}
	want := after + 1
	for _, f := range l.frames[i:] {
		if f.Seq != want {
			return nil, false
		}
		want++
	}
	return l.frames[i:], want == l.last+1
}

// catchUp returns what a client at p gets: the events it misses, or a
// replay_gap when some are lost, then the prompt's replay_state. sent is
// what its connection has already queued of the prompt: events older than
// those are not sent again, out of order.
func (r *replayLogs) catchUp(sid string, p Position, sent sentRange) []Frame {
	l := r.prompts[p.Prompt]
	if l == nil || l.sid != sid {
		return []Frame{stateFrame(p.Prompt, nil)}
	}
	after := p.After
	frames, complete := l.missing(after)
	if sent.last > after {
		// The connection has queued events of this prompt already: it is
		// sent the ones after them, and is told of a gap when it was
		// missing some before the first of them (they would come out of
		// order now).
		frames, complete = l.missing(sent.last)
		complete = complete && sent.first <= after+1
	}
	if !complete {
		gap, _ := Encode("replay_gap", pyjson.Object{
			{Key: "prompt_id", Value: p.Prompt}, {Key: "after", Value: after}, {Key: "seq", Value: l.last}})
		return []Frame{{Data: gap, Prompt: p.Prompt, Seq: l.last, Gap: true}, stateFrame(p.Prompt, l)}
	}
	return append(append([]Frame(nil), frames...), stateFrame(p.Prompt, l))
}

// states returns a replay_state message for each prompt of client sid that
// is not in skip, oldest first.
func (r *replayLogs) states(sid string, skip []Position) []Frame {
	var ids []string
	for id, l := range r.prompts {
		if l.sid == sid && !containsPrompt(skip, id) {
			ids = append(ids, id)
		}
	}
	// Oldest first, then by id: the order does not depend on the map's.
	slices.SortFunc(ids, func(a, b string) int {
		if c := r.prompts[a].updated.Compare(r.prompts[b].updated); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make([]Frame, len(ids))
	for i, id := range ids {
		out[i] = stateFrame(id, r.prompts[id])
	}
	return out
}

func containsPrompt(ps []Position, id string) bool {
	for _, p := range ps {
		if p.Prompt == id {
			return true
		}
	}
	return false
}

// stateFrame encodes the replay_state of prompt: its newest seq, whether
// it runs, its running node and its newest progress_state nodes. l nil is
// a prompt this instance knows nothing of (not started, forgotten, or not
// the client's).
func stateFrame(prompt string, l *promptLog) Frame {
	state, seq, nodes := "unknown", uint64(0), json.RawMessage("{}")
	var node *string
	if l != nil {
		state, seq, node = "running", l.last, l.node
		if l.done {
			state = "done"
		}
		if raw := progressNodes(l.progress); raw != nil {
			nodes = raw
		}
	}
	data, _ := Encode("replay_state", pyjson.Object{
		{Key: "prompt_id", Value: prompt}, {Key: "seq", Value: seq}, {Key: "state", Value: state},
		{Key: "node", Value: node}, {Key: "nodes", Value: nodes}})
	return Frame{Data: data}
}

// frameType reads the type of a JSON frame the sink encoded, whose bytes
// start with {"type": "...".
func frameType(data []byte) string {
	rest, ok := bytes.CutPrefix(data, []byte(`{"type": "`))
	if !ok {
		return ""
	}
	typ, _, ok := bytes.Cut(rest, []byte{'"'})
	if !ok {
		return ""
	}
	return string(typ)
}

// executingNode returns the display node of an executing frame, nil for
// the end of a prompt (node null).
func executingNode(frame []byte) (*string, bool) {
	var m struct {
		Data struct {
			Node        *string `json:"node"`
			DisplayNode *string `json:"display_node"`
		} `json:"data"`
	}
	if json.Unmarshal(frame, &m) != nil {
		return nil, false
	}
	if m.Data.DisplayNode != nil {
		return m.Data.DisplayNode, true
	}
	return m.Data.Node, true
}

// progressNodes returns the nodes of a progress_state frame.
func progressNodes(frame []byte) json.RawMessage {
	var m struct {
		Data struct {
			Nodes json.RawMessage `json:"nodes"`
		} `json:"data"`
	}
	if frame == nil || json.Unmarshal(frame, &m) != nil || len(m.Data.Nodes) == 0 {
		return nil
	}
	return m.Data.Nodes
}

// ConnectReplay connects client sid as Hub.Connect does, for a client that
// opted in to replay and has seen the events of since. After first it
// queues, for each position of since, what Replay queues, then a
// replay_state for each other prompt of sid this instance knows, then the
// frames held for sid that it did not get that way. No live event of
// those prompts comes in between.
func (s *Sink) ConnectReplay(sid string, since []Position, first ...Frame) *Outbox {
	s.order.Lock()
	defer s.order.Unlock()
	o := newReplayOutbox(since)
	frames := append([]Frame(nil), first...)
	for _, p := range since {
		if !s.wait(sid, o, p) {
			frames = append(frames, s.replay.catchUp(sid, p, sentRange{last: p.After})...)
		}
	}
	frames = append(frames, s.replay.states(sid, since)...)
	return s.Hub.attach(sid, o, frames)
}

// Replay queues on o, the outbox of client sid, the events of a prompt
// after p that o has not queued yet (or a replay_gap when some are lost, or
// would come out of order), then the prompt's replay_state. A client only
// gets the events addressed to it.
//
// On an instance that has not yet received the events up to p (they come
// over the bridge from the instance that runs the prompt, and the client
// saw them there first), the answer waits for them, for replayWait at
// most: a replay_state never goes back behind what the client has seen.
func (s *Sink) Replay(sid string, o *Outbox, p Position) {
	s.order.Lock()
	defer s.order.Unlock()
	if !s.wait(sid, o, p) {
		s.queue(sid, o, s.replay.catchUp(sid, p, o.position(p)))
	}
}

// queue pushes frames on o, the outbox of client sid, and cuts the client
// off if it overflows. s.order is held.
func (s *Sink) queue(sid string, o *Outbox, frames []Frame) {
	for _, f := range frames {
		if !o.push(f) {
			s.Hub.Disconnect(sid, o)
			return
		}
	}
}

// wait defers the answer to the request of client sid at p when this
// instance is behind it, and reports whether it did. A request replaces
// the one of the same connection for the same prompt; past maxPositions
// requests waiting on one connection, the next ones are answered at once.
// s.order is held.
func (s *Sink) wait(sid string, o *Outbox, p Position) bool {
	r := &s.replay
	l := r.prompts[p.Prompt]
	behind := s.bridge != nil && p.After > 0 && (l == nil || (l.sid == sid && !l.done && l.last < p.After))
	if !behind {
		return false
	}
	if w := r.waiting[p.Prompt][o]; w != nil {
		w.after = p.After
		return true
	}
	if r.waits[o] >= maxPositions {
		return false
	}
	if r.waiting == nil {
		r.waiting, r.waits = map[string]map[*Outbox]*replayWaiter{}, map[*Outbox]int{}
	}
	if r.waiting[p.Prompt] == nil {
		r.waiting[p.Prompt] = map[*Outbox]*replayWaiter{}
	}
	w := &replayWaiter{sid: sid, o: o, after: p.After}
	r.waiting[p.Prompt][o] = w
	r.waits[o]++
	wait := r.wait
	if wait == 0 {
		wait = replayWait
	}
	w.timer = time.AfterFunc(wait, func() {
		s.order.Lock()
		defer s.order.Unlock()
		if r.waiting[p.Prompt][o] == w {
			s.answer(p.Prompt, w)
		}
	})
	return true
}

// answerWaiting answers the requests that f, a new event, lets this
// instance answer: those of f's prompt at or before f, or all of them when
// f ended the prompt. It runs before f is queued: an answer replays f after
// the events before it, and the live f is then skipped as sent. s.order is
// held.
func (s *Sink) answerWaiting(f Frame, ended bool) {
	for _, w := range s.replay.waiting[f.Prompt] {
		if ended || f.Seq >= w.after {
			s.answer(f.Prompt, w)
		}
	}
}

// answer queues the answer to w, a request for prompt, and forgets w.
// s.order is held.
func (s *Sink) answer(prompt string, w *replayWaiter) {
	r := &s.replay
	w.timer.Stop()
	delete(r.waiting[prompt], w.o)
	if len(r.waiting[prompt]) == 0 {
		delete(r.waiting, prompt)
	}
	if r.waits[w.o]--; r.waits[w.o] == 0 {
		delete(r.waits, w.o)
	}
	p := Position{Prompt: prompt, After: w.after}
	s.queue(w.sid, w.o, r.catchUp(w.sid, p, w.o.position(p)))
}
