package imagefile

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
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
		hidden(s)
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
		hidden(s)
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
// files already there; see savePath), reports them as the "images" UI
// output and passes the batch through.
func save(ctx context.Context, c *node.Call, images *tensor.Image, prefix string, t files.Type, level int,
	out *node.Out[*tensor.Image]) error {
	return saveEach(ctx, c, images, prefix, t, out,
		func(sp files.SavePath, b int, text []imageio.TextChunk) (string, func(io.Writer) error, error) {
			img, err := image8(images, b)
			if err != nil {
				return "", nil, err
			}
			return sp.Name(b, ".png"), func(w io.Writer) error { return imageio.EncodePNG(w, img, level, text) }, nil
		})
}

// imageFile returns the name of image b of a batch saved under sp and the
// function that writes the file, given the metadata text chunks; an error
// stops the save.
type imageFile func(sp files.SavePath, b int, text []imageio.TextChunk) (name string, write func(io.Writer) error, err error)

// saveEach writes each image of the batch into folder t, as file says,
// reports them as the "images" UI output and passes the batch through.
func saveEach(ctx context.Context, c *node.Call, images *tensor.Image, prefix string, t files.Type,
	out *node.Out[*tensor.Image], file imageFile) error {
	if err := checkBatch(images); err != nil {
		return err
	}
	root, sp, err := savePath(c, prefix, t, images.W, images.H)
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
		name, write, err := file(sp, b, text)
		if err != nil {
			return err
		}
		if err := files.WriteFile(root, path.Join(sp.Subfolder, name), write); err != nil {
			return err
		}
		saved(c, name, sp.Subfolder, t)
	}
	out.Set(c, images)
	return nil
}

// checkBatch fails as ComfyUI's save nodes do on a missing or empty batch,
// whose images[0] raises.
func checkBatch(images *tensor.Image) error {
	if images == nil {
		return errors.New("images: no value")
	}
	if images.B == 0 {
		return node.Raise("IndexError", "index 0 is out of bounds for dimension 0 with size 0")
	}
	return nil
}

// savePath prepares a save into folder t of an image of the given size: the
// folder's root and the SavePath of the prefix, expanded first by
// files.FormatPrefix against the running prompt (the frontend's
// replacements, which it makes before queueing; a prefix without '%'
// stays) and then by files.SaveImagePath.
func savePath(c *node.Call, prefix string, t files.Type, width, height int) (*os.Root, files.SavePath, error) {
	root := rootOf(c.Folders(), t)
	if root == nil {
		return nil, files.SavePath{}, fmt.Errorf("the server's %s folder is not set", t)
	}
	now := time.Now()
	prefix = files.FormatPrefix(prefix, c.Prompt(), now)
	sp, err := files.SaveImagePath(root, prefix, width, height, now)
	if errors.Is(err, files.ErrOutside) {
		return nil, sp, &node.Exception{Type: "Exception", Message: err.Error()}
	}
	return root, sp, err
}

// image8 converts image b of the batch as Pillow's fromarray of the 8-bit
// array does, failing as it does on a channel count it cannot take (one,
// or more than four). Two channels are grey and alpha (Pillow's "LA"),
// returned as an *image.NRGBA with the grey in red, green and blue: the
// same pixels, though the PNG is written as RGBA where Pillow writes LA.
func image8(images *tensor.Image, b int) (image.Image, error) {
	switch images.C {
	case 2:
		la := images.Frame(b)
		rgba := tensor.NewImage(1, images.H, images.W, 4)
		for i := range images.H * images.W {
			l, a := la[2*i], la[2*i+1]
			copy(rgba.Pix[4*i:], []float32{l, l, l, a})
		}
		return imageio.FromTensor(rgba, 0), nil
	case 3, 4:
		return imageio.FromTensor(images, b), nil
	}
	return nil, node.Raise("TypeError", "Cannot handle this data type: (1, 1, %d), |u1", images.C)
}

// saved reports a written file in the "images" UI output, as ComfyUI's
// SavedResult.
func saved(c *node.Call, name, subfolder string, t files.Type) {
	c.UI("images", pyjson.Object{
		{Key: "filename", Value: name},
		{Key: "subfolder", Value: subfolder},
		{Key: "type", Value: string(t)},
	})
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
