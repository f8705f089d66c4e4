package imagefile

import (
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// benchImage is a 1024×1024 RGB batch of one with smooth gradients, as
// compressible as a typical generation.
func benchImage() *tensor.Image {
	const n = 1024
	img := tensor.NewImage(1, n, n, 3)
	for y := range n {
		for x := range n {
			p := img.Pix[(y*n+x)*3:]
			p[0], p[1], p[2] = float32(x)/n, float32(y)/n, float32((x+y)%n)/n
		}
	}
	return img
}

// BenchmarkSaveImage is SaveImage of one 1024×1024 RGB image: 8-bit
// conversion, PNG encoding at level 4 with a prompt chunk, atomic write.
func BenchmarkSaveImage(b *testing.B) {
	folders, _ := testFolders(b)
	prompt, _ := node.ParsePrompt([]byte(`{"9":{"inputs":{"images":["8",0],"filename_prefix":"ComfyUI"},"class_type":"SaveImage"}}`))
	rt := &node.Runtime{Prompt: prompt, Folders: folders}
	in := map[string]any{"images": benchImage(), "filename_prefix": "ComfyUI"}
	for b.Loop() {
		if _, err := run(b, saveImage, rt, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadImage is LoadImage of the file SaveImage wrote: read,
// decode, conversion to IMAGE and MASK.
func BenchmarkLoadImage(b *testing.B) {
	folders, _ := testFolders(b)
	rt := &node.Runtime{Folders: folders}
	res, err := run(b, saveImage, rt, map[string]any{"images": benchImage(), "filename_prefix": "ComfyUI"})
	if err != nil {
		b.Fatal(err)
	}
	in := map[string]any{"image": field(uiImages(b, res)[0], "filename").(string) + " [output]"}
	for b.Loop() {
		if _, err := run(b, loadImage, rt, in); err != nil {
			b.Fatal(err)
		}
	}
}
