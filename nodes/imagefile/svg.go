package imagefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// SVG is comfy_api's SVG value: a list of SVG documents (its BytesIO
// objects).
type SVG struct {
	Data [][]byte
}

// SVGType is the SVG socket type.
var SVGType = node.Type[*SVG]{Name: "SVG"}

var saveSVG = node.New(node.Info{ID: "SaveSVGNode", DisplayName: "Save SVG", Category: "image", Module: modImages,
	Format: node.V3, Description: "Save SVG files on disk.", OutputNode: true,
	SearchAliases: []string{"export vector", "save vector graphics"}},
	func(s *node.Schema) node.RunFunc {
		svg := node.Socket(s, SVGType, "svg")
		prefix := s.String("filename_prefix").Default("svg/ComfyUI").Tooltip("The prefix for the file to save. " +
			"This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% " +
			"to include values from nodes.")
		hidden(s)
		out := node.Output(s, SVGType, "svg")
		return func(ctx context.Context, c *node.Call) error {
			v := svg.Get(c)
			if v == nil {
				return errors.New("svg: no value")
			}
			if err := saveSVGs(ctx, c, v, prefix.Get(c)); err != nil {
				return err
			}
			out.Set(c, v)
			return nil
		}
	})

// svgTag matches what SaveSVGNode's regular expression (<svg[^>]*>) does:
// every opening (or self-closing) tag starting "<svg", nested ones too.
var svgTag = regexp.MustCompile(`<svg[^>]*>`)

// saveSVGs writes each document into the output folder as
// "prefix_00001_.svg" (the counter of files.SaveImagePath, the prefix at
// size 0×0), with ComfyUI's metadata element inserted after every <svg…>
// tag, and reports them as "images". As in ComfyUI, the metadata is written
// even under --disable-metadata, which this node does not check.
func saveSVGs(ctx context.Context, c *node.Call, svg *SVG, prefix string) error {
	root, sp, err := savePath(c, prefix, files.Output, 0, 0)
	if err != nil {
		return err
	}
	meta, err := svgMetadata(c)
	if err != nil {
		return err
	}
	for b, doc := range svg.Data {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !utf8.Valid(doc) {
			return node.Raise("UnicodeDecodeError", "%s", utf8Error(doc))
		}
		if meta != nil {
			doc = svgTag.ReplaceAllFunc(doc, func(tag []byte) []byte {
				return append(append(append([]byte{}, tag...), '\n'), meta...)
			})
		}
		name := sp.Name(b, ".svg")
		err := files.WriteFile(root, path.Join(sp.Subfolder, name), func(w io.Writer) error {
			_, err := w.Write(doc)
			return err
		})
		if err != nil {
			return err
		}
		saved(c, name, sp.Subfolder, files.Output)
	}
	return nil
}

// svgMetadata is the element SaveSVGNode inserts: json.dumps(…, indent=2)
// of {"prompt": prompt} updated with extra_pnginfo (a key "prompt" there
// replaces the prompt in place) inside a CDATA section, with the
// indentation of ComfyUI's string literal. It is nil when there is neither.
func svgMetadata(c *node.Call) ([]byte, error) {
	var meta pyjson.Object
	if p := c.Prompt(); p != nil {
		meta.Set("prompt", p)
	}
	if raw := c.ExtraPNGInfo(); len(raw) > 0 {
		if extra, err := pyjson.DecodeObject(raw); err == nil {
			for _, f := range extra {
				meta.Set(f.Key, f.Value)
			}
		}
	}
	if len(meta) == 0 {
		return nil, nil
	}
	compact, err := pyjson.Marshal(meta)
	if err != nil {
		return nil, err
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, compact, "", "  "); err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "  <metadata>\n%16s<![CDATA[\n%12s%s\n%16s]]>\n%12s</metadata>\n%12s",
		"", "", indented.Bytes(), "", "", ""), nil
}

// utf8Error returns the message of the UnicodeDecodeError Python's
// bytes.decode("utf-8") raises for b, which must not be valid UTF-8: the
// bytes of the first bad sequence (its lead byte and the continuation bytes
// that were valid) and why it is bad.
func utf8Error(b []byte) string {
	i := 0
	for {
		if r, n := utf8.DecodeRune(b[i:]); r != utf8.RuneError || n != 1 {
			i += n
			continue
		}
		// The continuation bytes the lead byte needs, and the range of the
		// first one (narrower after E0, ED, F0 and F4, which would
		// otherwise start overlong forms or surrogates).
		need, lo, hi := 0, byte(0x80), byte(0xbf)
		switch c := b[i]; {
		case c >= 0xc2 && c <= 0xdf:
			need = 1
		case c == 0xe0:
			need, lo = 2, 0xa0
		case c == 0xed:
			need, hi = 2, 0x9f
		case c >= 0xe1 && c <= 0xef:
			need = 2
		case c == 0xf0:
			need, lo = 3, 0x90
		case c == 0xf4:
			need, hi = 3, 0x8f
		case c >= 0xf1 && c <= 0xf3:
			need = 3
		}
		end, reason := i, "invalid start byte"
		for j := 1; j <= need; j++ {
			if i+j == len(b) {
				end, reason = len(b)-1, "unexpected end of data"
				break
			}
			if c := b[i+j]; c < lo || c > hi {
				end, reason = i+j-1, "invalid continuation byte"
				break
			}
			lo, hi = 0x80, 0xbf
		}
		if end == i {
			return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", b[i], i, reason)
		}
		return fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", i, end, reason)
	}
}
