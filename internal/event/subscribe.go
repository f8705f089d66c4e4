package event

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"sync"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// watchers are the functions that see the engine events a Sink receives,
// before they are encoded for WebSocket clients: the per-job views of the
// v2 API (progress snapshots, Server-Sent Events, synchronous runs) follow
// jobs through them without a WebSocket of their own.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]watcher
}

// watcher is one Watch or WatchShared function; local ones see only this
// instance's events.
type watcher struct {
	fn    func(origin string, e executor.Event)
	local bool
}

// Watch calls fn with every event this instance's engine emits, on the
// goroutine that emits it and in order, until stop is called. fn must
// return quickly and must not call back into the sink: it runs while the
// executor waits. It is for what must happen once per event in a cluster
// (recording timings, sending webhooks).
func (s *Sink) Watch(fn func(executor.Event)) (stop func()) {
	return s.watch.add(watcher{fn: func(_ string, e executor.Event) { fn(e) }, local: true})
}

// WatchShared calls fn as Watch does with this instance's events (origin
// ""), and also with the events of the prompts that run on the other
// instances, received through the Bridge (origin: the id of the instance
// that runs the prompt), in the order it published them: the views of a
// job follow it whichever instance runs it. A bridged event is what its
// frame carries: Type and Data as the WebSocket message has them, SID or
// All as addressed; a preview has its metadata as Data (prompt_id,
// node_id, ...) and as Image a *JPEG. The events the bridge does not carry
// (previews over 1 MiB, those lost while the database was away) are not
// seen.
func (s *Sink) WatchShared(fn func(origin string, e executor.Event)) (stop func()) {
	return s.watch.add(watcher{fn: fn})
}

func (w *watchers) add(fn watcher) (stop func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]watcher{}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

// notify passes e, from instance origin ("": this one), to every watcher
// that takes it.
func (w *watchers) notify(origin string, e executor.Event) {
	w.mu.Lock()
	fns := make([]func(string, executor.Event), 0, len(w.fns))
	for _, fn := range w.fns {
		if origin == "" || !fn.local {
			fns = append(fns, fn.fn)
		}
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(origin, e)
	}
}

// shared reports whether a watcher takes the other instances' events.
func (w *watchers) shared() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		if !fn.local {
			return true
		}
	}
	return false
}

// notifyRemote passes the frame f, which instance origin published for
// client sid (or every client), to the shared watchers as an event.
func (s *Sink) notifyRemote(origin, sid string, all bool, f Frame) {
	if !s.watch.shared() {
		return
	}
	e := executor.Event{SID: sid, All: all}
	if f.Binary {
		meta, jpg, ok := splitPreview(f.Data)
		if !ok || meta == nil {
			return // a broadcast legacy preview names no prompt
		}
		data, err := decodeData(meta)
		if err != nil {
			return
		}
		e.Type, e.Data, e.Image = "preview", data, &JPEG{Data: jpg}
	} else {
		var m struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(f.Data, &m) != nil {
			return
		}
		data, err := decodeData(m.Data)
		if err != nil {
			return
		}
		e.Type, e.Data = m.Type, data
	}
	s.watch.notify(origin, e)
}

// decodeData decodes the data of a bridged event as the engine makes it
// at its top level: strings are strings, null is nil; other values stay
// json.RawMessage, which marshals as it was.
func decodeData(raw []byte) (pyjson.Object, error) {
	data, err := pyjson.DecodeObject(raw)
	if err != nil {
		return nil, err
	}
	for i, f := range data {
		v := f.Value.(json.RawMessage)
		switch {
		case string(v) == "null":
			data[i].Value = nil
		case len(v) > 0 && v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				data[i].Value = s
			}
		}
	}
	return data, nil
}

// A JPEG is a preview image received from another instance, still
// encoded (at most 512 pixels, quality 95, as the sink sends previews): a
// watcher that forwards previews sends Data as it is. It is decoded only
// when drawn; an undecodable one is empty.
type JPEG struct {
	Data []byte

	once sync.Once
	img  image.Image
}

func (j *JPEG) decoded() image.Image {
	j.once.Do(func() {
		img, err := jpeg.Decode(bytes.NewReader(j.Data))
		if err != nil {
			img = image.NewRGBA(image.Rectangle{})
		}
		j.img = img
	})
	return j.img
}

// ColorModel implements image.Image.
func (j *JPEG) ColorModel() color.Model { return j.decoded().ColorModel() }

// Bounds implements image.Image.
func (j *JPEG) Bounds() image.Rectangle { return j.decoded().Bounds() }

// At implements image.Image.
func (j *JPEG) At(x, y int) color.Color { return j.decoded().At(x, y) }
