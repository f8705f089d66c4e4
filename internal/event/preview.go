package event

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"

	"golang.org/x/image/draw"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Binary frame types of ComfyUI's protocol.py (Hyrum's law: wire values).
const (
	framePreviewImage             = 1
	framePreviewImageWithMetadata = 4
	imageTypeJPEG                 = 1
)

// previewSize is ComfyUI's --preview-size default: previews are shrunk to
// fit it in both dimensions.
const previewSize = 512

// SetPreviewMetadata records whether client sid announced
// supports_preview_metadata in its feature flags: it then gets previews
// with their metadata (frame type 4) rather than the legacy frame (type 1).
func (s *Sink) SetPreviewMetadata(sid string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.previewMeta == nil {
		s.previewMeta = map[string]bool{}
	}
	if ok {
		s.previewMeta[sid] = true
	} else {
		delete(s.previewMeta, sid)
	}
}

// preview sends a preview image as ComfyUI does: JPEG quality 95, shrunk to
// fit 512 pixels with bilinear filtering; to a client that supports it with
// its metadata, else (and when broadcast) as a legacy frame.
func (s *Sink) preview(e executor.Event) {
	jpg, err := encodePreview(e.Image)
	if err != nil {
		if s.Log != nil {
			s.Log.Error("encoding a preview", "err", err)
		}
		return
	}
	node, _ := e.Data.Get("node_id")
	id, _ := node.(string)
	f := Frame{Binary: true, Coalesce: "preview/" + id}
	if e.All {
		f.Data = legacyPreview(jpg)
	} else {
		// With its metadata, whether or not this instance's client takes
		// them: another instance's client with the same id may.
		meta := append(append(pyjson.Object{}, e.Data...), pyjson.Field{Key: "image_type", Value: "image/jpeg"})
		m, err := pyjson.Marshal(meta)
		if err != nil {
			return
		}
		f.Data = binary.BigEndian.AppendUint32(nil, framePreviewImageWithMetadata)
		f.Data = binary.BigEndian.AppendUint32(f.Data, uint32(len(m)))
		f.Data = append(append(f.Data, m...), jpg...)
	}
	if s.bridge != nil {
		s.bridge.publish(e, f)
	}
	s.deliverPreview(e.SID, e.All, f)
}

// legacyPreview is the frame of a preview without metadata (type 1).
func legacyPreview(jpg []byte) []byte {
	f := binary.BigEndian.AppendUint32(nil, framePreviewImage)
	f = binary.BigEndian.AppendUint32(f, imageTypeJPEG)
	return append(f, jpg...)
}

// deliverPreview sends a preview frame made by preview (here or on
// another instance): a broadcast as it is, else to client sid, which gets
// the frame with metadata only if it announced supports_preview_metadata.
func (s *Sink) deliverPreview(sid string, all bool, f Frame) {
	if all {
		s.Hub.Broadcast(f)
		return
	}
	s.mu.Lock()
	withMeta := s.previewMeta[sid]
	s.mu.Unlock()
	if meta, jpg, ok := splitPreview(f.Data); ok && meta != nil && !withMeta {
		f.Data = legacyPreview(jpg)
	}
	s.Hub.Send(sid, f)
}

// splitPreview returns the metadata (nil only for a legacy frame) and the image
// of a preview frame; ok is false if data is not one.
func splitPreview(data []byte) (meta, img []byte, ok bool) {
	if len(data) < 8 {
		return nil, nil, false
	}
	switch binary.BigEndian.Uint32(data) {
	case framePreviewImage:
		return nil, data[8:], true
	case framePreviewImageWithMetadata:
		n := binary.BigEndian.Uint32(data[4:])
		if uint64(n) > uint64(len(data)-8) {
			return nil, nil, false
		}
		return data[8 : 8+n], data[8+n:], true
	}
	return nil, nil, false
}

func encodePreview(img image.Image) ([]byte, error) {
	b := img.Bounds()
	if w, h := b.Dx(), b.Dy(); w > previewSize || h > previewSize {
		scale := float64(previewSize) / float64(max(w, h))
		dst := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))))
		draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		img = dst
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
