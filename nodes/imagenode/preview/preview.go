// Package preview writes the temporary PNG previews that ComfyUI's nodes
// show in the frontend besides their outputs: comfy_api's UI.PreviewImage
// and UI.PreviewMask (ImageCropV2, MaskPreview) and nodes.PreviewImage's
// save_images as other nodes call it (ImageCompare).
//
// Previews go to the temp folder under "<prefix>_temp_<5 letters>", at
// Pillow's compress_level 1 and, as those helpers are called, without the
// prompt or workflow metadata SaveImage writes.
package preview

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

// Save writes each image of the batch into the temp folder as
// "<prefix>_temp_xxxxx_NNNNN_.png" (five random letters of ComfyUI's
// alphabet, which has a second "p" and no "w", and the next free counter)
// and returns the UI entries that name them: {"filename", "subfolder",
// "type": "temp"}.
func Save(ctx context.Context, c *node.Call, images *tensor.Image, prefix string) ([]any, error) {
	if images.B == 0 {
		return nil, node.Raise("IndexError", "index 0 is out of bounds for dimension 0 with size 0")
	}
	root := c.Folders().Temp
	if root == nil {
		return nil, errors.New("the server's temp folder is not set")
	}
	sp, err := files.SaveImagePath(root, prefix+tempSuffix(), images.W, images.H, time.Now())
	if errors.Is(err, files.ErrOutside) {
		return nil, &node.Exception{Type: "Exception", Message: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	var entries []any
	for b := range images.B {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img := imageio.FromTensor(images, b)
		if img == nil {
			return nil, node.Raise("TypeError", "Cannot handle this data type: (1, 1, %d), |u1", images.C)
		}
		name := sp.Name(b, ".png")
		err := files.WriteFile(root, path.Join(sp.Subfolder, name), func(w io.Writer) error {
			return imageio.EncodePNG(w, img, imageio.LevelPreview, nil)
		})
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", name, err)
		}
		entries = append(entries, pyjson.Object{
			{Key: "filename", Value: name},
			{Key: "subfolder", Value: sp.Subfolder},
			{Key: "type", Value: string(files.Temp)},
		})
	}
	return entries, nil
}

// Image is UI.PreviewImage: the images saved with prefix "ComfyUI", listed
// under "images", and "animated": [false].
func Image(ctx context.Context, c *node.Call, images *tensor.Image) error {
	entries, err := Save(ctx, c, images, "ComfyUI")
	if err != nil {
		return err
	}
	c.UI("images", entries...)
	c.UI("animated", false)
	return nil
}

// Mask is UI.PreviewMask: each mask previewed as a grey RGB image.
func Mask(ctx context.Context, c *node.Call, m *tensor.Mask) error {
	img := tensor.NewImage(m.B, m.H, m.W, 3)
	for i, v := range m.Pix {
		img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = v, v, v
	}
	return Image(ctx, c, img)
}

// tempSuffix is "_temp_" and five letters drawn from ComfyUI's alphabet.
func tempSuffix() string {
	const alphabet = "abcdefghijklmnopqrstupvxyz"
	b := []byte("_temp_")
	for range 5 {
		b = append(b, alphabet[rand.IntN(len(alphabet))])
	}
	return string(b)
}
