package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Default limits of [Options]: MAX_RESOLUTION squared, ComfyUI's largest
// image, for one frame and for all frames of a file together.
const (
	DefaultMaxPixels      = 16384 * 16384
	DefaultMaxTotalPixels = 16384 * 16384
)

// ErrFormat is returned for data that is not an image format Decode knows.
var ErrFormat = errors.New("imageio: unknown image format")

// ErrTooLarge is wrapped by the error Decode returns for an image above the
// pixel limits (a decompression bomb or simply too big).
var ErrTooLarge = errors.New("imageio: image too large")

// Options tune [Decode]. The zero value decodes as LoadImage does, within the
// default limits.
type Options struct {
	// MaxPixels bounds width×height of one frame; 0 means DefaultMaxPixels.
	MaxPixels int64
	// MaxTotalPixels bounds width×height×frames; 0 means DefaultMaxTotalPixels.
	MaxTotalPixels int64
	// FirstFrame decodes only the first frame, as PIL's Image.open does
	// for /view.
	FirstFrame bool
	// NoOrientation leaves EXIF orientation unapplied, as /view does;
	// LoadImage applies it (ImageOps.exif_transpose).
	NoOrientation bool
}

// Decoded is a decoded image file; Tensors turns it into LoadImage's outputs.
type Decoded struct {
	// Format is "png", "jpeg", "gif", "webp", "bmp" or "tiff".
	Format string
	// Frames are the file's frames in order, of the types Go's decoders
	// return (*image.YCbCr for JPEG, *image.RGBA for opaque PNG, …). The
	// frames of animated GIF and WebP files are whole canvases, as
	// *image.NRGBA (or opaque *image.RGBA for a WebP without alpha). EXIF
	// orientation has been applied unless Options.NoOrientation.
	Frames []image.Image
}

// Decode reads r to its end and decodes the image file, refusing images
// above the limits of opt before decoding pixels (the caller bounds the
// file's size).
//
// Formats: PNG (the default image only; APNG animation frames, which PyAV
// would return, are not decoded), JPEG, GIF (every frame, composited as
// FFmpeg's decoder does, since LoadImage reads GIFs with PyAV), WebP (still
// images with golang.org/x/image/webp; animated ones, which LoadImage reads
// with Pillow, through libwebp), BMP and TIFF (first page). EXIF orientation
// is read from JPEG APP1, PNG eXIf and WebP EXIF chunks.
func Decode(r io.Reader, opt Options) (*Decoded, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	f := sniff(data)
	if f == nil {
		return nil, ErrFormat
	}
	maxPix, maxTotal := opt.MaxPixels, opt.MaxTotalPixels
	if maxPix <= 0 {
		maxPix = DefaultMaxPixels
	}
	if maxTotal <= 0 {
		maxTotal = DefaultMaxTotalPixels
	}
	cfg, err := f.config(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPix || px > maxTotal {
		return nil, fmt.Errorf("%w: %s %dx%d is above the limit of %d pixels", ErrTooLarge, f.name, cfg.Width, cfg.Height, min(maxPix, maxTotal))
	}
	frames, err := f.decode(data, decodeLimit{maxTotal, opt.FirstFrame})
	if err != nil {
		return nil, err
	}
	if !opt.NoOrientation && f.exif != nil {
		if o := orientation(f.exif(data)); o > 1 {
			for i, fr := range frames {
				frames[i] = orient(fr, o)
			}
		}
	}
	return &Decoded{Format: f.name, Frames: frames}, nil
}

// decodeLimit is what a multi-frame decoder needs to know beyond the
// single-frame size check.
type decodeLimit struct {
	maxTotal   int64
	firstFrame bool
}

// check refuses frames×w×h above the total limit.
func (l decodeLimit) check(format string, frames, w, h int) error {
	if int64(frames)*int64(w)*int64(h) > l.maxTotal {
		return fmt.Errorf("%w: %s of %d frames of %dx%d is above the limit of %d pixels", ErrTooLarge, format, frames, w, h, l.maxTotal)
	}
	return nil
}

// format is one decodable image format.
type format struct {
	name   string
	magic  func([]byte) bool
	config func(io.Reader) (image.Config, error)
	decode func([]byte, decodeLimit) ([]image.Image, error)
	exif   func([]byte) []byte // the raw EXIF (TIFF) block, or nil; nil for formats without one
}

// single adapts a one-image decoder.
func single(dec func(io.Reader) (image.Image, error)) func([]byte, decodeLimit) ([]image.Image, error) {
	return func(data []byte, _ decodeLimit) ([]image.Image, error) {
		m, err := dec(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return []image.Image{m}, nil
	}
}

func hasPrefix(p string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(p)) }
}

var formats = []format{
	{"png", hasPrefix(pngSignature), png.DecodeConfig, single(png.Decode), pngEXIF},
	{"jpeg", hasPrefix("\xff\xd8\xff"), jpeg.DecodeConfig, single(jpeg.Decode), jpegEXIF},
	{"gif", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}, gif.DecodeConfig, decodeGIF, nil},
	{"webp", isWebP, webpConfig, decodeWebP, webpEXIF},
	{"bmp", hasPrefix("BM"), bmp.DecodeConfig, single(bmp.Decode), nil},
	{"tiff", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
	}, tiff.DecodeConfig, single(tiff.Decode), nil},
}

// sniff returns the format of data by its signature, or nil.
func sniff(data []byte) *format {
	for i := range formats {
		if formats[i].magic(data) {
			return &formats[i]
		}
	}
	return nil
}

// webpConfig reads the canvas size of any WebP, including animated ones
// that x/image/webp does not decode.
func webpConfig(r io.Reader) (image.Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return image.Config{}, err
	}
	if info, ok := parseVP8X(data); ok {
		return image.Config{Width: info.width, Height: info.height}, nil
	}
	return webp.DecodeConfig(bytes.NewReader(data))
}
