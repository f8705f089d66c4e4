// Package builtin lists every node pack gocomfy ships. Add a pack here and
// nowhere else.
package builtin

import (
	"github.com/gocomfy/gocomfy/node"
)

// Register adds every built-in node class to r, in /object_info order
// (ComfyUI's: nodes.py first, then comfy_extras).
func Register(r *node.Registry) {
}
