package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"

	libwebp "github.com/gen2brain/webp"
	"golang.org/x/image/webp"
)

// vp8xInfo is what the extended WebP header and chunk list tell.
type vp8xInfo struct {
	width, height int
	animated      bool
	alpha         bool
	frames        int    // ANMF chunks
	exif          []byte // the EXIF chunk's payload, if any
}

// VP8X flag bits.
const (
	vp8xAnimation = 0x02
	vp8xEXIF      = 0x08
	vp8xAlpha     = 0x10
)

func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}

// riffChunks calls fn for each top-level chunk of a WebP file until fn
// returns false or the data ends; a truncated chunk ends the walk.
func riffChunks(data []byte, fn func(id string, payload []byte) bool) {
	if !isWebP(data) {
		return
	}
	for p := data[12:]; len(p) >= 8; {
		n := uint64(binary.LittleEndian.Uint32(p[4:8]))
		if n > uint64(len(p)-8) {
			return
		}
		if !fn(string(p[:4]), p[8:8+n]) {
			return
		}
		p = p[min(8+n+n&1, uint64(len(p))):]
	}
}

// parseVP8X reports the extended header of a WebP file; ok is false for
// simple (VP8 or VP8L only) files.
func parseVP8X(data []byte) (info vp8xInfo, ok bool) {
	riffChunks(data, func(id string, p []byte) bool {
		switch id {
		case "VP8X":
			if ok || len(p) < 10 {
				return false
			}
			ok = true
			info.animated = p[0]&vp8xAnimation != 0
			info.alpha = p[0]&vp8xAlpha != 0
			info.width = 1 + (int(p[4]) | int(p[5])<<8 | int(p[6])<<16)
			info.height = 1 + (int(p[7]) | int(p[8])<<8 | int(p[9])<<16)
		case "ANMF":
			info.frames++
		case "EXIF":
			if info.exif == nil {
				info.exif = p
			}
		}
		return ok
	})
	return info, ok
}

func webpEXIF(data []byte) []byte {
	info, _ := parseVP8X(data)
	return info.exif
}

// decodeWebP decodes a still WebP with x/image/webp, and an animated one
// with libwebp (gen2brain/webp), as ComfyUI hands animated WebP to Pillow.
// Animated frames come back as full canvases: *image.NRGBA when the file
// declares alpha, else opaque *image.RGBA (Pillow's "RGB" mode).
func decodeWebP(data []byte, lim decodeLimit) ([]image.Image, error) {
	info, ok := parseVP8X(data)
	if !ok || !info.animated {
		m, err := webp.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return []image.Image{m}, nil
	}
	if info.frames == 0 {
		return nil, errors.New("imageio: animated webp without frames")
	}
	if err := lim.check("webp", info.frames, info.width, info.height); err != nil {
		return nil, err
	}
	anim, err := decodeAnimatedWebP(data)
	if err != nil {
		return nil, err
	}
	if lim.firstFrame {
		anim = anim[:1]
	}
	out := make([]image.Image, len(anim))
	for i, m := range anim {
		rgba, ok := m.(*image.RGBA)
		if !ok {
			return nil, errors.New("imageio: unexpected webp frame type")
		}
		if info.alpha {
			out[i] = toNRGBA(rgba)
			continue
		}
		for j := 3; j < len(rgba.Pix); j += 4 {
			rgba.Pix[j] = 0xff
		}
		out[i] = rgba
	}
	return out, nil
}

// decodeAnimatedWebP decodes every frame through libwebp. The library
// panics when its WebAssembly fallback cannot start; that becomes an error.
func decodeAnimatedWebP(data []byte) (frames []image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			frames, err = nil, libwebpPanic(r)
		}
	}()
	w, err := libwebp.DecodeAll(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(w.Image) == 0 {
		return nil, errors.New("imageio: animated webp without frames")
	}
	return w.Image, nil
}
