package builtin_test

import (
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/builtin"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Every built-in class registers (Register panics on a bad or duplicate
// declaration) and renders its /object_info entry.
func TestBuiltinsRegisterAndRender(t *testing.T) {
	t.Parallel()
	r := node.NewRegistry()
	builtin.Register(r)
	n := 0
	for c := range r.All() {
		n++
		if _, err := pyjson.Marshal(c.ObjectInfo()); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		}
	}
	t.Logf("%d built-in classes", n)
	for _, id := range required {
		if _, ok := r.Lookup(id); !ok {
			t.Errorf("%s is not registered", id)
		}
	}
}

// required are the classes the core node library must have (issue 5).
var required = []string{
	"ImageScale", "ImageScaleBy", "ImageScaleToTotalPixels", "ImageInvert", "ImageBatch",
	"ImagePadForOutpaint", "EmptyImage", "ImageCompositeMasked", "ImageBlend", "ImageBlur", "ImageSharpen",
	"ImageCrop", "ImageFlip", "ImageRotate", "ImageStitch", "RepeatImageBatch", "ImageFromBatch",
	"Canny", "ColorTransfer", "CenterCropImages", "NormalizeImages", "AdjustBrightness", "AdjustContrast",
	"ResizeImagesByShorterEdge", "ResizeImagesByLongerEdge", "RandomCropImages", "ShuffleDataset",
	"ImageDeduplication", "ImageGrid", "MergeImageLists", "FluxKontextImageScale", "ImageHistogram",
	"CropByBBoxes",
	"SolidMask", "InvertMask", "CropMask", "MaskComposite", "FeatherMask", "GrowMask", "ThresholdMask",
	"ImageToMask", "MaskToImage", "ImageColorToMask", "JoinImageWithAlpha", "SplitImageWithAlpha",
	"EmptyLatentImage", "LatentUpscale", "LatentUpscaleBy", "LatentComposite", "LatentCompositeMasked",
	"LatentBlend", "LatentFromBatch", "RepeatLatentBatch", "LatentBatch", "LatentFlip", "LatentRotate",
	"LatentCrop", "SetLatentNoiseMask",
	"PrimitiveInt", "PrimitiveFloat", "PrimitiveString", "PrimitiveStringMultiline", "PrimitiveBoolean",
	"StringConcatenate", "StringSubstring", "StringLength", "CaseConverter", "StringTrim", "StringReplace",
	"StringContains", "StringCompare", "RegexMatch", "RegexExtract", "RegexReplace",
	"SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveSVGNode", "SaveImageAdvanced", "WebcamCapture",
	"LoadImageDataSetFromFolder", "SaveImageDataSetToFolder", "LoadImageTextDataSetFromFolder",
	"SaveImageTextDataSetToFolder",
}
