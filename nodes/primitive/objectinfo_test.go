package primitive_test

import (
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/node/nodetest"
	"github.com/gocomfy/gocomfy/nodes/primitive"
)

// The golden files are ComfyUI v0.27.0's /object_info entries, as
// json.dumps writes them, rendered from ComfyUI's own class definitions.
func TestObjectInfoMatchesComfyUI(t *testing.T) {
	t.Parallel()
	r := node.NewRegistry()
	primitive.Register(r)
	nodetest.ObjectInfo(t, r, "testdata/object_info")
}
