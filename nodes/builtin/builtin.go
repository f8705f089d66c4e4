// Package builtin lists every node pack gocomfy ships. Add a pack here and
// nowhere else.
package builtin

import (
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/imagefile"
	"github.com/gocomfy/gocomfy/nodes/imagenode"
	"github.com/gocomfy/gocomfy/nodes/latentnode"
	"github.com/gocomfy/gocomfy/nodes/logic"
	"github.com/gocomfy/gocomfy/nodes/masknode"
	"github.com/gocomfy/gocomfy/nodes/primitive"
	"github.com/gocomfy/gocomfy/nodes/textnode"
)

// Register adds every built-in node class to r, in /object_info order
// (ComfyUI's: nodes.py first, then comfy_extras).
func Register(r *node.Registry) {
	imagefile.Register(r)
	imagenode.Register(r)
	latentnode.Register(r)
	masknode.Register(r)
	primitive.Register(r)
	textnode.Register(r)
	logic.Register(r)
}
