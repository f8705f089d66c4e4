package event

import (
	"fmt"
	"image"
	"sync"
	"testing"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// TestWatchShared checks that a shared watcher sees the events of every
// instance, a bridged one as its frame carries it, and that a Watch
// watcher sees only its own instance's.
func TestWatchShared(t *testing.T) {
	t.Parallel()
	b := newBus()
	a, other := startBridged(t, b, "a"), startBridged(t, b, "b")
	var mu sync.Mutex
	var shared, local []string
	other.WatchShared(func(origin string, e executor.Event) {
		mu.Lock()
		defer mu.Unlock()
		data, _ := pyjson.Marshal(e.Data)
		s := fmt.Sprintf("%s %s %s %s", origin, e.SID, e.Type, data)
		if e.Image != nil {
			s += fmt.Sprintf(" %T %v", e.Image, e.Image.Bounds())
		}
		shared = append(shared, s)
	})
	other.Watch(func(e executor.Event) {
		mu.Lock()
		defer mu.Unlock()
		local = append(local, e.Type)
	})

	a.Event(executor.Event{Type: "executing", SID: "x", Data: pyjson.Object{{Key: "node", Value: "1"},
		{Key: "prompt_id", Value: "p"}, {Key: "parent", Value: nil}}})
	a.Event(executor.Event{Type: "progress", SID: "x", Data: pyjson.Object{{Key: "value", Value: 2},
		{Key: "max", Value: 4}, {Key: "prompt_id", Value: "p"}}})
	a.Event(executor.Event{Type: "preview", SID: "x", Image: image.NewRGBA(image.Rect(0, 0, 3, 2)),
		Data: pyjson.Object{{Key: "node_id", Value: "1"}, {Key: "prompt_id", Value: "p"}}})
	b.waitPublished(t, 3)
	other.Event(executing("y", "2"))

	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`a x executing {"node": "1", "prompt_id": "p", "parent": null}`,
		`a x progress {"value": 2, "max": 4, "prompt_id": "p"}`,
		`a x preview {"node_id": "1", "prompt_id": "p", "image_type": "image/jpeg"} *event.JPEG (0,0)-(3,2)`,
		` y executing {"node": "2"}`,
	}
	if fmt.Sprint(shared) != fmt.Sprint(want) {
		t.Errorf("shared watcher saw\n%q\nwant\n%q", shared, want)
	}
	if fmt.Sprint(local) != "[executing]" {
		t.Errorf("local watcher saw %v, want its own instance's executing only", local)
	}
}

// TestJPEGUndecodable checks that a JPEG that does not decode is empty.
func TestJPEGUndecodable(t *testing.T) {
	t.Parallel()
	if b := (&JPEG{Data: []byte("not a jpeg")}).Bounds(); !b.Empty() {
		t.Errorf("bounds %v, want empty", b)
	}
}
