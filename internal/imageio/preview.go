package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"strconv"
	"strings"

	libwebp "github.com/gen2brain/webp"
)

// Preview is a parsed /view preview request.
type Preview struct {
	Format  string // "webp" or "jpeg"
	Quality int    // 0–100
	RGB     bool   // drop alpha before encoding (jpeg, or channel=rgb)
}

// ParsePreview interprets /view's preview and channel query values as
// ComfyUI's view_image does: preview is "<format>[;…][;<quality>]"; the
// format is webp unless it is exactly "jpeg", and webp whenever channel
// contains the letter "a"; the quality is the last ";"-part when it is all
// digits, else 90. Qualities above 100 are clamped to 100 (Pillow would fail).
func ParsePreview(preview, channel string) Preview {
	parts := strings.Split(preview, ";")
	p := Preview{Format: parts[0], Quality: 90}
	if p.Format != "webp" && p.Format != "jpeg" || strings.Contains(channel, "a") {
		p.Format = "webp"
	}
	if q := parts[len(parts)-1]; q != "" && strings.Trim(q, "0123456789") == "" {
		n, err := strconv.Atoi(q)
		if err != nil || n > 100 {
			n = 100
		}
		p.Quality = n
	}
	p.RGB = p.Format == "jpeg" || channel == "rgb"
	return p
}

// ErrWebPUnavailable is wrapped by errors from the WebP codec when libwebp
// could be neither loaded nor started as WebAssembly.
var ErrWebPUnavailable = errors.New("imageio: webp codec unavailable")

// EncodePreview encodes img as p asks and returns the Content-Type written.
// JPEG uses image/jpeg; WebP uses libwebp through gen2brain/webp (the shared
// libwebp when libwebp-dev is installed, else its WebAssembly build, compiled
// on first use), with Pillow's defaults (lossy, method 4). If the WebP codec
// is unavailable the preview is written as JPEG instead, and the returned
// type says so. Quality 0 is sent to libwebp as 1, since the binding reads 0
// as "default".
func EncodePreview(w io.Writer, img image.Image, p Preview) (string, error) {
	var src image.Image
	if p.RGB || p.Format == "jpeg" {
		src = opaqueRGBA(img)
	} else {
		src = webpInput(img)
	}
	if p.Format == "webp" {
		var buf bytes.Buffer
		err := encodeWebP(&buf, src, max(p.Quality, 1))
		if err == nil {
			_, err = buf.WriteTo(w)
			return "image/webp", err
		}
		if !errors.Is(err, ErrWebPUnavailable) {
			return "", err
		}
		src = opaqueRGBA(img)
	}
	return "image/jpeg", jpeg.Encode(w, src, &jpeg.Options{Quality: p.Quality})
}

// encodeWebP encodes lossy WebP; a panic of the codec's start-up becomes
// ErrWebPUnavailable.
func encodeWebP(w io.Writer, img image.Image, quality int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = libwebpPanic(r)
		}
	}()
	return libwebp.Encode(w, img, libwebp.Options{Quality: quality, Method: libwebp.DefaultMethod})
}

// libwebpPanic turns a panic of gen2brain/webp (it panics when its
// WebAssembly module cannot be compiled) into an error.
func libwebpPanic(r any) error {
	return fmt.Errorf("%w: %v", ErrWebPUnavailable, r)
}

// webpInput returns img in a form the WebP binding reads directly: a
// tightly packed *image.NRGBA at the origin when img has alpha (as Pillow
// keeps RGBA for WebP), else an opaque *image.RGBA.
func webpInput(img image.Image) image.Image {
	if hasAlpha(img) {
		if m, ok := img.(*image.NRGBA); ok && m.Rect.Min == (image.Point{}) && m.Stride == 4*m.Rect.Dx() {
			return m
		}
		return toNRGBA(img)
	}
	return opaqueRGBA(img)
}

// Channel returns the image that /view sends as PNG for channel=rgb or
// channel=a, and false for any other channel value (the file is then sent
// as it is):
//
//   - "rgb": the colours without alpha (*RGB);
//   - "a": black with the image's alpha (*image.NRGBA), alpha 255 when the
//     image has none. Pillow takes alpha only from mode "RGBA" images, so
//     a palette image gets 255 here too; grey+alpha PNGs, which Go decodes
//     to *image.NRGBA, keep their alpha where Pillow would send 255.
//
// Encode the result with EncodePNG at LevelDefault and no text, as Pillow's
// save does.
func Channel(img image.Image, channel string) (image.Image, bool) {
	switch channel {
	case "rgb":
		return toRGB(img), true
	case "a":
		b := img.Bounds()
		dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		_, paletted := img.(*image.Paletted)
		if !hasAlpha(img) || paletted {
			for i := 3; i < len(dst.Pix); i += 4 {
				dst.Pix[i] = 0xff
			}
			return dst, true
		}
		n, ok := img.(*image.NRGBA)
		if !ok {
			n = toNRGBA(img)
		}
		for y := range b.Dy() {
			s := n.Pix[n.PixOffset(n.Rect.Min.X, n.Rect.Min.Y+y):]
			d := dst.Pix[y*dst.Stride : (y+1)*dst.Stride]
			for x := 3; x < len(d); x += 4 {
				d[x] = s[x]
			}
		}
		return dst, true
	}
	return nil, false
}
