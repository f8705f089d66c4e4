package imagefile

import (
	"os"
	"path/filepath"
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

// benchAnimation is 16 frames of 512×512 RGB whose gradients drift a
// little each frame, so every frame differs all over, as in a generated
// animation.
func benchAnimation() *tensor.Image {
	const n, frames = 512, 16
	img := tensor.NewImage(frames, n, n, 3)
	i := 0
	for f := range frames {
		for y := range n {
			for x := range n {
				p := img.Pix[i:]
				p[0], p[1], p[2] = float32((x+3*f)%n)/n, float32((y+2*f)%n)/n, float32((x+y+f)%n)/n
				i += 3
			}
		}
	}
	return img
}

// benchSaveAnimated runs class on benchAnimation with the node's defaults
// and the given values, with a prompt to store as metadata, and reports
// the file's size.
func benchSaveAnimated(b *testing.B, class *node.Class, values map[string]any) {
	folders, base := testFolders(b)
	prompt, _ := node.ParsePrompt([]byte(`{"9":{"inputs":{"images":["8",0],"filename_prefix":"ComfyUI"},"class_type":"SaveAnimatedPNG"}}`))
	rt := &node.Runtime{Prompt: prompt, Folders: folders}
	in := map[string]any{"images": benchAnimation(), "filename_prefix": "ComfyUI", "fps": 6.0}
	for k, v := range values {
		in[k] = v
	}
	var res node.Result
	for b.Loop() {
		var err error
		if res, err = run(b, class, rt, in); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(base, "output", field(uiImages(b, res)[0], "filename").(string)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/1024, "KiB")
}

// BenchmarkSaveAnimatedPNG is SaveAnimatedPNG of 16 frames of 512×512 at
// compress_level 4: 8-bit conversion, the changed box of each frame,
// filtering and deflate, atomic write.
func BenchmarkSaveAnimatedPNG(b *testing.B) {
	benchSaveAnimated(b, saveAnimatedPNG, map[string]any{"compress_level": int64(4)})
}

// BenchmarkSaveAnimatedWEBP is SaveAnimatedWEBP of 16 frames of 512×512
// with the node's defaults (lossless, quality 80, method default), then
// lossy at quality 80.
func BenchmarkSaveAnimatedWEBP(b *testing.B) {
	for _, lossless := range []bool{true, false} {
		name := "lossy"
		if lossless {
			name = "lossless"
		}
		b.Run(name, func(b *testing.B) {
			benchSaveAnimated(b, saveAnimatedWEBP, map[string]any{"lossless": lossless, "quality": int64(80), "method": "default"})
		})
	}
}
