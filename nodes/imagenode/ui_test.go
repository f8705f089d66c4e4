package imagenode

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"

	"github.com/gocomfy/gocomfy/pyjson"
)

// savedFile is how gen.py writes a preview ComfyUI saved: the start of its
// name (before the random letters), its folder type, and the bytes Pillow
// wrote ([H,W,C], or [H,W] for grey).
type savedFile struct {
	Prefix string
	Type   string
	Shape  []int
	Hex    string
}

// checkUI compares a call's UI with a golden one (absent: no UI). Saved
// previews must be files of temp with the golden pixels; other values must
// be equal as JSON.
func checkUI(temp *os.Root, got pyjson.Object, raw json.RawMessage) error {
	var want map[string][]json.RawMessage
	if raw != nil {
		if err := json.Unmarshal(raw, &want); err != nil {
			return err
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("keys %v, want %d keys", got, len(want))
	}
	for key, items := range want {
		v, _ := got.Get(key)
		list, ok := v.([]any)
		if ok && list == nil {
			return fmt.Errorf("%s: null, want a list", key)
		}
		if !ok || len(list) != len(items) {
			return fmt.Errorf("%s: %v, want %d items", key, v, len(items))
		}
		for i, item := range items {
			var tagged struct{ SAVED *savedFile }
			if err := json.Unmarshal(item, &tagged); err == nil && tagged.SAVED != nil {
				if err := checkSaved(temp, list[i], tagged.SAVED); err != nil {
					return fmt.Errorf("%s %d: %v", key, i, err)
				}
				continue
			}
			b, err := pyjson.Marshal(list[i])
			if err != nil {
				return err
			}
			var g, w any
			if json.Unmarshal(b, &g) != nil || json.Unmarshal(item, &w) != nil || !reflect.DeepEqual(g, w) {
				return fmt.Errorf("%s %d: %s, want %s", key, i, b, item)
			}
		}
	}
	return nil
}

func checkSaved(temp *os.Root, entry any, want *savedFile) error {
	obj, ok := entry.(pyjson.Object)
	if !ok {
		return fmt.Errorf("entry %v is not an object", entry)
	}
	field := func(k string) string { v, _ := obj.Get(k); s, _ := v.(string); return s }
	name, sub := field("filename"), field("subfolder")
	if !regexp.MustCompile(`^`+regexp.QuoteMeta(want.Prefix)+`[a-z]{5}_\d{5}_\.png$`).MatchString(name) ||
		field("type") != want.Type || sub != "" {
		return fmt.Errorf("entry %v, want %s…, type %s", obj, want.Prefix, want.Type)
	}
	f, err := temp.Open(path.Join(sub, name))
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return err
	}
	pixels, err := hex.DecodeString(want.Hex)
	if err != nil {
		return err
	}
	if got := pngBytes(img, len(want.Shape)); !slices.Equal(got, pixels) ||
		img.Bounds().Dy() != want.Shape[0] || img.Bounds().Dx() != want.Shape[1] {
		return fmt.Errorf("%s: %v pixels %v, want %v %v", name, img.Bounds().Size(), got, want.Shape, pixels)
	}
	return nil
}

// pngBytes lists a decoded PNG's bytes as numpy lists Pillow's: grey for
// rank 2, else RGB, or RGBA when the PNG has alpha.
func pngBytes(img image.Image, rank int) []uint8 {
	var out []uint8
	b := img.Bounds()
	_, alpha := img.(*image.NRGBA)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if rank == 2 {
				out = append(out, color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
				continue
			}
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out = append(out, c.R, c.G, c.B)
			if alpha {
				out = append(out, c.A)
			}
		}
	}
	return out
}
