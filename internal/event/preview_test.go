package event

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"testing"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

func TestPreviewFrames(t *testing.T) {
	t.Parallel()
	h := NewHub()
	s := &Sink{Hub: h}
	legacy := h.Connect("old")
	modern := h.Connect("new")
	s.SetPreviewMetadata("new", true)
	meta := pyjson.Object{{Key: "node_id", Value: "3"}, {Key: "prompt_id", Value: "P"},
		{Key: "display_node_id", Value: "3"}, {Key: "parent_node_id", Value: nil}, {Key: "real_node_id", Value: "3"}}
	img := image.NewRGBA(image.Rect(0, 0, 1024, 256))
	for _, sid := range []string{"old", "new"} {
		s.Event(executor.Event{Type: "preview", SID: sid, Data: meta, Image: img})
	}

	fs, _ := legacy.Next()
	f := fs[0].Data
	if !fs[0].Binary || binary.BigEndian.Uint32(f) != 1 || binary.BigEndian.Uint32(f[4:]) != 1 {
		t.Fatalf("legacy frame header % x", f[:8])
	}
	checkJPEG(t, f[8:], 512, 128)

	fs, _ = modern.Next()
	f = fs[0].Data
	if binary.BigEndian.Uint32(f) != 4 {
		t.Fatalf("frame type %d, want 4", binary.BigEndian.Uint32(f))
	}
	n := binary.BigEndian.Uint32(f[4:])
	want := `{"node_id": "3", "prompt_id": "P", "display_node_id": "3", "parent_node_id": null, "real_node_id": "3", "image_type": "image/jpeg"}`
	if got := string(f[8 : 8+n]); got != want {
		t.Errorf("metadata %s\nwant %s", got, want)
	}
	checkJPEG(t, f[8+n:], 512, 128)
}

func checkJPEG(t *testing.T, b []byte, w, h int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != w || cfg.Height != h {
		t.Errorf("preview is %dx%d, want %dx%d", cfg.Width, cfg.Height, w, h)
	}
}
