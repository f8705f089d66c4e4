package imagefile

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
)

// maxResolution is ComfyUI's nodes.MAX_RESOLUTION.
const maxResolution = 16384

// webcamType is the socket type of WebcamCapture's image: the frontend
// draws a camera widget for it and, on queue, uploads a snapshot and sends
// its name ("webcam/123.png [temp]"), so the value is a file name as for
// LoadImage.
var webcamType = node.Type[string]{Name: "WEBCAM"}

// webcamCapture is comfy_extras.nodes_webcam's LoadImage subclass. width,
// height and capture_on_queue only steer the frontend's capture; the node
// loads the named file as LoadImage does, with LoadImage's IS_CHANGED and
// VALIDATE_INPUTS (inherited in ComfyUI, ESSENTIALS_CATEGORY too), and
// gives only the image.
var webcamCapture = node.New(node.Info{ID: "WebcamCapture", DisplayName: "Webcam Capture", Category: "image",
	Module: "comfy_extras.nodes_webcam", EssentialsCategory: "Basics",
	SearchAliases: []string{"camera input", "live capture", "camera feed", "snapshot"}},
	func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, webcamType, "image").EmptyOptions()
		s.Int("width").Default(0).Min(0).Max(maxResolution).Step(1)
		s.Int("height").Default(0).Min(0).Max(maxResolution).Step(1)
		s.Bool("capture_on_queue").Default(true)
		out := node.Output(s, node.Image, "IMAGE")
		fileHooks(s, image.In)
		return func(ctx context.Context, c *node.Call) error {
			img, _, err := load(ctx, c, image.Get(c))
			if err != nil {
				return err
			}
			out.Set(c, img)
			return nil
		}
	})
