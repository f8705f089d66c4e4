package imageio_test

import (
	"bytes"
	"fmt"

	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/tensor"
)

// SaveImage writes each image of the batch as a PNG at compress level 4 with
// the prompt and workflow as text; LoadImage reads it back.
func Example() {
	batch := tensor.NewImage(1, 2, 3, 3)
	batch.Fill(0.5, 0.25, 1)

	var file bytes.Buffer
	text := []imageio.TextChunk{{Key: "prompt", Value: `{"1": {}}`}, {Key: "workflow", Value: `{"nodes": []}`}}
	if err := imageio.EncodePNG(&file, imageio.FromTensor(batch, 0), imageio.LevelSave, text); err != nil {
		panic(err)
	}

	meta, _ := imageio.ReadPNGText(bytes.NewReader(file.Bytes()))
	fmt.Println(meta[0].Key, meta[0].Value)

	d, err := imageio.Decode(&file, imageio.Options{})
	if err != nil {
		panic(err)
	}
	img, mask := d.Tensors()
	fmt.Println(img.Shape(), mask.Shape(), img.Pix[:3])
	// Output:
	// prompt {"1": {}}
	// [1 2 3 3] [1 64 64] [0.49803922 0.24705882 1]
}
