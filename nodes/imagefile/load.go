package imagefile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// modNodes is the python_module of nodes.py's classes.
const modNodes = "nodes"

var loadImage = node.New(node.Info{ID: "LoadImage", DisplayName: "Load Image", Category: "image", Module: modNodes,
	EssentialsCategory: "Basics",
	SearchAliases: []string{"load image", "open image", "import image", "image input", "upload image",
		"read image", "image loader"}},
	func(s *node.Schema) node.RunFunc {
		image := s.Combo("image").Dynamic(inputImages).Upload("image_upload")
		return loadImageRun(s, image)
	})

// loadImageOutput is LoadImage whose widget lists the output folder; the
// frontend fetches the list from /internal/files/output, so the declared
// type is a bare "COMBO" and values arrive as "x.png [output]".
var loadImageOutput = node.New(node.Info{ID: "LoadImageOutput", DisplayName: "Load Image (from Outputs)",
	Category: "image", Module: modNodes, Experimental: true, EssentialsCategory: "Basics",
	Description: "Load an image from the output folder. When the refresh button is clicked, the node will " +
		"update the image list and automatically select the first image, allowing for easy iteration.",
	SearchAliases: []string{"output image", "previous generation"}},
	func(s *node.Schema) node.RunFunc {
		image := s.Combo("image").TypeCombo().Upload("image_upload").Option("image_folder", "output").
			Option("remote", pyjson.Object{
				{Key: "route", Value: "/internal/files/output"},
				{Key: "refresh_button", Value: true},
				{Key: "control_after_refresh", Value: "first"},
			})
		return loadImageRun(s, image)
	})

// loadImageRun declares LoadImage's outputs and hooks on the image input
// and returns its run function.
func loadImageRun(s *node.Schema, image *node.ComboInput) node.RunFunc {
	outImage := node.Output(s, node.Image, "IMAGE")
	outMask := node.Output(s, node.Mask, "MASK")
	fileHooks(s, image.In)
	return func(ctx context.Context, c *node.Call) error {
		img, mask, err := load(ctx, c, image.Get(c))
		if err != nil {
			return err
		}
		outImage.Set(c, img)
		outMask.Set(c, mask)
		return nil
	}
}

var loadImageMask = node.New(node.Info{ID: "LoadImageMask", DisplayName: "Load Image (as Mask)", Category: "image",
	Module: modNodes, EssentialsCategory: "Image Tools",
	SearchAliases: []string{"import mask", "alpha mask", "channel mask"}},
	func(s *node.Schema) node.RunFunc {
		image := s.Combo("image").Dynamic(inputImages).Upload("image_upload")
		channel := s.Combo("channel", "alpha", "red", "green", "blue")
		out := node.Output(s, node.Mask, "MASK")
		fileHooks(s, image.In)
		return func(ctx context.Context, c *node.Call) error {
			img, mask, err := load(ctx, c, image.Get(c))
			if err != nil {
				return err
			}
			out.Set(c, channelMask(img, mask, channel.Get(c)))
			return nil
		}
	})

// channelMask is LoadImageMask's choice among the loaded image and mask:
// "alpha" is the mask (1 − alpha), "red", "green" and "blue" that channel of
// the image, not inverted. As in ComfyUI only the first letter counts, and
// an unknown one means red.
func channelMask(img *tensor.Image, mask *tensor.Mask, channel string) *tensor.Mask {
	first := ""
	if channel != "" {
		first = strings.ToUpper(channel[:1])
	}
	if first == "A" {
		return mask
	}
	idx := strings.Index("RGB", first)
	if idx < 0 || first == "" {
		idx = 0
	}
	m := tensor.NewMask(img.B, img.H, img.W)
	for i := range m.Pix {
		m.Pix[i] = img.Pix[i*img.C+idx]
	}
	return m
}

// fileHooks declares LoadImage's IS_CHANGED (the SHA-256 of the file, so a
// replaced file runs again under the same name) and VALIDATE_INPUTS (the
// file must exist). Taking "image" in the validator also makes validation
// skip the combo check, so any existing file is accepted: "sub/x.png" or
// "x.png [output]".
func fileHooks(s *node.Schema, image node.In[string]) {
	s.Fingerprint(func(ctx context.Context, c *node.Call) (any, error) {
		f, err := open(ctx, c, image.Get(c))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	})
	s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
		v, _ := c.Input("image")
		name, isString := v.(string)
		if isString {
			if _, known := foldersOf(c); !known {
				return nil // no folders to look in: the run reports a missing file
			}
			if f, err := open(ctx, c, name); err == nil {
				f.Close()
				return nil
			}
		}
		return fmt.Errorf("Invalid image file: %v", v)
	}, node.ValidateOptions{Inputs: []string{"image"}})
}

// open opens the regular file an image input names: "x.png" or "sub/x.png"
// in the input folder, "x.png [output]" in the folder the annotation
// names. A file the folder lacks is fetched from the storage instances
// share, if the server has one (files.OpenOrFetch): it may have been
// uploaded to another instance. Errors carry ComfyUI's Python exception
// types and messages.
func open(ctx context.Context, c *node.Call, name string) (*os.File, error) {
	folders, ok := foldersOf(c)
	if !ok {
		return nil, errors.New("the server's folders are not set")
	}
	rest, t, annotated := files.SplitAnnotation(name)
	if !annotated {
		t = files.Input
	}
	clean, err := files.CleanName(rest)
	root := rootOf(folders, t)
	if err != nil || root == nil {
		return nil, node.Raise("ValueError", "Invalid file path: %s", pyRepr(name))
	}
	f, err := files.OpenOrFetch(ctx, root, clean)
	switch {
	case files.IsOutside(err):
		return nil, node.Raise("ValueError", "Invalid file path: %s", pyRepr(name))
	case errors.Is(err, fs.ErrNotExist):
		return nil, node.Raise("FileNotFoundError", "[Errno 2] No such file or directory: %s", pyRepr(name))
	case err != nil:
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, node.Raise("IsADirectoryError", "[Errno 21] Is a directory: %s", pyRepr(name))
	}
	return f, nil
}

// load is LoadImage: every frame of the file with EXIF orientation
// applied, as IMAGE [F,H,W,3], and the mask 1 − alpha (or 64×64 zeros).
func load(ctx context.Context, c *node.Call, name string) (*tensor.Image, *tensor.Mask, error) {
	f, err := open(ctx, c, name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	d, err := imageio.Decode(f, imageio.Options{})
	if errors.Is(err, imageio.ErrFormat) {
		return nil, nil, node.Raise("UnidentifiedImageError", "cannot identify image file %s", pyRepr(name))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	img, mask := d.Tensors()
	if img == nil {
		return nil, nil, node.Raise("RuntimeError", "%s: the file holds no frames", name)
	}
	return img, mask, nil
}

// pyRepr is Python's repr of a str, used where ComfyUI's messages quote a
// name with {!r}; bytes that are not UTF-8 show as \x escapes.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}
