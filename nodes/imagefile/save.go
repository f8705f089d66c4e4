package imagefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

const saveDescription = "Saves the input images to your ComfyUI output directory."

var saveImage = node.New(node.Info{ID: "SaveImage", DisplayName: "Save Image", Category: "image", Module: modNodes,
	Description: saveDescription, OutputNode: true, EssentialsCategory: "Basics",
	SearchAliases: []string{"save", "save image", "export image", "output image", "write image", "download"}},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images").Tooltip("The images to save.")
		prefix := s.String("filename_prefix").Default("ComfyUI").Tooltip("The prefix for the file to save. " +
			"This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% " +
			"to include values from nodes.")
		s.Hidden("prompt", node.HiddenPrompt)
		s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
		out := node.Output(s, node.Image, "images")
		return func(ctx context.Context, c *node.Call) error {
			return save(ctx, c, images.Get(c), prefix.Get(c), files.Output, imageio.LevelSave, out)
		}
	})

// previewImage is SaveImage into the temp folder, whose files the frontend
// shows and the server deletes at start and exit. ComfyUI's class inherits
// SaveImage's description, so it says "output directory" too.
var previewImage = node.New(node.Info{ID: "PreviewImage", DisplayName: "Preview Image", Category: "image",
	Module: modNodes, Description: saveDescription, OutputNode: true, EssentialsCategory: "Basics",
	SearchAliases: []string{"preview", "preview image", "show image", "view image", "display image", "image viewer"}},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images")
		s.Hidden("prompt", node.HiddenPrompt)
		s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
		out := node.Output(s, node.Image, "images")
		return func(ctx context.Context, c *node.Call) error {
			return save(ctx, c, images.Get(c), "ComfyUI"+tempSuffix(), files.Temp, imageio.LevelPreview, out)
		}
	})

// tempSuffix is PreviewImage's "_temp_" and five random letters, drawn from
// ComfyUI's alphabet (which has a second "p" and no "w"). ComfyUI draws it
// once per node instance; here it is drawn per call, as V3's preview helper
// does, so previews of one node do not share a counter.
func tempSuffix() string {
	const alphabet = "abcdefghijklmnopqrstupvxyz"
	b := []byte("_temp_")
	for range 5 {
		b = append(b, alphabet[rand.IntN(len(alphabet))])
	}
	return string(b)
}

// save writes each image of the batch as a PNG into folder t under
// ComfyUI's names ("prefix_00001_.png", the counter continuing after the
// files already there; the prefix expanded by files.FormatPrefix against
// the running prompt, then files.SaveImagePath), reports them as the "images" UI output and passes
// the batch through.
func save(ctx context.Context, c *node.Call, images *tensor.Image, prefix string, t files.Type, level int,
	out *node.Out[*tensor.Image]) error {
	if images == nil {
		return errors.New("images: no value")
	}
	if images.B == 0 {
		return node.Raise("IndexError", "index 0 is out of bounds for dimension 0 with size 0")
	}
	root := rootOf(c.Folders(), t)
	if root == nil {
		return fmt.Errorf("the server's %s folder is not set", t)
	}
	// The frontend's replacements first, as it makes them before queueing;
	// PreviewImage's prefix has no '%' and stays.
	now := time.Now()
	prefix = files.FormatPrefix(prefix, c.Prompt(), now)
	sp, err := files.SaveImagePath(root, prefix, images.W, images.H, now)
	if errors.Is(err, files.ErrOutside) {
		return &node.Exception{Type: "Exception", Message: err.Error()}
	}
	if err != nil {
		return err
	}
	text, err := metadata(c)
	if err != nil {
		return err
	}
	for b := range images.B {
		if err := ctx.Err(); err != nil {
			return err
		}
		img := imageio.FromTensor(images, b)
		if img == nil {
			return node.Raise("TypeError", "Cannot handle this data type: (1, 1, %d), |u1", images.C)
		}
		name := sp.Name(b, ".png")
		err := files.WriteFile(root, path.Join(sp.Subfolder, name), func(w io.Writer) error {
			return imageio.EncodePNG(w, img, level, text)
		})
		if err != nil {
			return err
		}
		c.UI("images", pyjson.Object{
			{Key: "filename", Value: name},
			{Key: "subfolder", Value: sp.Subfolder},
			{Key: "type", Value: string(t)},
		})
	}
	out.Set(c, images)
	return nil
}

// metadata is the PNG text SaveImage writes unless --disable-metadata:
// "prompt", json.dumps of the prompt, then each key of extra_pnginfo in the
// order sent (normally "workflow") with json.dumps of its value. An
// extra_pnginfo that is not an object (null) adds nothing.
func metadata(c *node.Call) ([]imageio.TextChunk, error) {
	if c.MetadataDisabled() {
		return nil, nil
	}
	var text []imageio.TextChunk
	if p := c.Prompt(); p != nil {
		v, err := pyjson.Marshal(p)
		if err != nil {
			return nil, err
		}
		text = append(text, imageio.TextChunk{Key: "prompt", Value: string(v)})
	}
	if raw := c.ExtraPNGInfo(); len(raw) > 0 {
		extra, err := pyjson.DecodeObject(raw)
		if err != nil {
			return text, nil
		}
		for _, f := range extra {
			v, err := pyjson.Marshal(f.Value)
			if err != nil {
				return nil, err
			}
			text = append(text, imageio.TextChunk{Key: f.Key, Value: string(v)})
		}
	}
	return text, nil
}
