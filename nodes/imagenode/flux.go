package imagenode

import (
	"context"
	"math"

	"github.com/gocomfy/gocomfy/node"
)

// kontextResolutions are nodes_flux's PREFERRED_KONTEXT_RESOLUTIONS
// (width, height), in its order, which breaks ties.
var kontextResolutions = [][2]int{
	{672, 1568}, {688, 1504}, {720, 1456}, {752, 1392}, {800, 1328}, {832, 1248}, {880, 1184}, {944, 1104},
	{1024, 1024}, {1104, 944}, {1184, 880}, {1248, 832}, {1328, 800}, {1392, 752}, {1456, 720}, {1504, 688},
	{1568, 672},
}

// fluxKontextImageScale resizes to the preferred Flux Kontext resolution
// whose aspect ratio is nearest the image's (lanczos, center crop).
var fluxKontextImageScale = node.New(node.Info{ID: "FluxKontextImageScale", Category: "model/conditioning/flux",
	Description: "This node resizes the image to one that is more optimal for flux kontext.",
	Module:      "comfy_extras.nodes_flux", Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			img, err := getImage(c, image.In)
			if err != nil {
				return err
			}
			if img.H == 0 {
				return zeroDivision()
			}
			aspect := float64(img.W) / float64(img.H)
			// min() over (|Δ|, w, h) tuples: the first of equal distances
			// has the smaller width, and the list is sorted by width.
			best, bestD := kontextResolutions[0], math.Inf(1)
			for _, r := range kontextResolutions {
				if d := math.Abs(aspect - float64(r[0])/float64(r[1])); d < bestD {
					best, bestD = r, d
				}
			}
			res, err := scaleImage(img, best[0], best[1], "lanczos", true)
			if err != nil {
				return err
			}
			out.Set(c, res)
			return nil
		}
	})
