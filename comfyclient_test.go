package gocomfy_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/pyjson"
)

// This file ports the harness of ComfyUI's tests/execution/test_execution.py:
// GraphBuilder (comfy_execution/graph_utils.py), ComfyClient and RunResult.

// graph is ComfyUI's GraphBuilder: it builds an API-format prompt whose node
// ids are a prefix and a counter ("test_lazy_input1"), keeping nodes and
// inputs in insertion order as Python dicts do, since the executor reads
// the prompt in key order.
type graph struct {
	prefix string
	next   int
	nodes  []*gnode
}

// gnode is one node of a graph (GraphBuilder's Node).
type gnode struct {
	id, class string
	inputs    pyjson.Object
}

func newGraph(prefix string) *graph { return &graph{prefix: prefix, next: 1} }

// node adds a node of class whose inputs are name, value pairs, as
// GraphBuilder.node(class_type, **kwargs).
func (g *graph) node(class string, inputs ...any) *gnode {
	id := strconv.Itoa(g.next)
	g.next++
	return g.nodeWithID(id, class, inputs...)
}

// nodeWithID is GraphBuilder.node(class_type, id=id, ...): the id is
// prefixed, and an existing node of that id is returned unchanged.
func (g *graph) nodeWithID(id, class string, inputs ...any) *gnode {
	id = g.prefix + id
	for _, n := range g.nodes {
		if n.id == id {
			return n
		}
	}
	if len(inputs)%2 != 0 {
		panic("graph.node: inputs must be name, value pairs")
	}
	n := &gnode{id: id, class: class}
	for i := 0; i < len(inputs); i += 2 {
		n.set(inputs[i].(string), inputs[i+1])
	}
	g.nodes = append(g.nodes, n)
	return n
}

// remove is GraphBuilder.remove_node.
func (g *graph) remove(id string) {
	id = g.prefix + id
	for i, n := range g.nodes {
		if n.id == id {
			g.nodes = append(g.nodes[:i], g.nodes[i+1:]...)
			return
		}
	}
}

// out is a link to output index of n.
func (n *gnode) out(index int) []any { return []any{n.id, index} }

// set is Node.set_input: nil removes the input; an existing input keeps
// its position.
func (n *gnode) set(name string, value any) {
	if value == nil {
		n.inputs.Delete(name)
		return
	}
	n.inputs.Set(name, pyValue(value))
}

// pyValue makes Go floats print as Python floats (5.0, not 5), because
// the tests tell 5 from 5.0 as the Python ones do.
func pyValue(v any) any {
	switch v := v.(type) {
	case float64:
		return pyjson.Float(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = pyValue(e)
		}
		return out
	}
	return v
}

// prompt is GraphBuilder.finalize, as JSON.
func (g *graph) prompt(t *testing.T) json.RawMessage {
	t.Helper()
	p := make(pyjson.Object, 0, len(g.nodes))
	for _, n := range g.nodes {
		inputs := n.inputs
		if inputs == nil {
			inputs = pyjson.Object{}
		}
		p = append(p, pyjson.Field{Key: n.id, Value: pyjson.Object{
			{Key: "class_type", Value: n.class}, {Key: "inputs", Value: inputs}}})
	}
	data, err := pyjson.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withT returns ts bound to t, for use from a subtest (its helpers fail
// the test they are given).
func (ts *testServer) withT(t *testing.T) *testServer {
	c := *ts
	c.t = t
	return &c
}

// comfyClient is ComfyClient of test_execution.py: a WebSocket client of a
// test server that queues graphs and gathers their outputs.
type comfyClient struct {
	t        *testing.T
	ts       *testServer
	ws       *wsClient
	id       string
	testName string // the filename_prefix of every SaveImage
}

// newComfyClient connects a client with a fresh id for test t. It waits
// for the server's first status frame: the server registers a socket only
// after the handshake, so a prompt queued before that frame could lose
// its first messages to this client.
func newComfyClient(t *testing.T, ts *testServer, testName string) *comfyClient {
	ts = ts.withT(t)
	id := uuid.NewString()
	ws := ts.connect(id)
	ws.waitFor(func(m wsMessage) bool { return m.Type == "status" })
	return &comfyClient{t: t, ts: ts, ws: ws, id: id, testName: testName}
}

// execResult is RunResult: the messages of one prompt, and the images of
// its history outputs, decoded.
type execResult struct {
	runResult
	images map[string][]image.Image
}

// imagesOf is RunResult.get_images: the decoded images of n's output.
func (r execResult) imagesOf(n *gnode) []image.Image { return r.images[n.id] }

// body is the POST /prompt body of g; targets nil leaves
// partial_execution_targets out.
func (c *comfyClient) body(g *graph, targets []string) map[string]any {
	for _, n := range g.nodes {
		if n.class == "SaveImage" {
			n.set("filename_prefix", c.testName)
		}
	}
	body := map[string]any{"prompt": g.prompt(c.t), "client_id": c.id}
	if targets != nil {
		body["partial_execution_targets"] = targets
	}
	return body
}

// exec queues g and waits for its end. On success it reads the outputs
// from /history and the images through /view, as ComfyClient.run does.
func (c *comfyClient) exec(g *graph, targets []string) execResult {
	c.t.Helper()
	r := execResult{runResult: c.ts.run(c.ws, c.id, c.body(g, targets))}
	if r.errData != nil {
		return r
	}
	var h map[string]struct {
		Outputs map[string]map[string]json.RawMessage `json:"outputs"`
	}
	c.ts.getJSON("/history/"+r.promptID, &h)
	entry, ok := h[r.promptID]
	if !ok {
		c.t.Fatalf("no history entry for %s", r.promptID)
	}
	r.images = map[string][]image.Image{}
	for id, out := range entry.Outputs {
		raw, ok := out["images"]
		if !ok {
			continue
		}
		var files []struct{ Filename, Subfolder, Type string }
		if err := json.Unmarshal(raw, &files); err != nil {
			c.t.Fatalf("node %s images: %v in %s", id, err, raw)
		}
		for _, f := range files {
			r.images[id] = append(r.images[id], c.view(f.Filename, f.Subfolder, f.Type))
		}
	}
	return r
}

// view downloads an image through GET /view and decodes it.
func (c *comfyClient) view(filename, subfolder, typ string) image.Image {
	c.t.Helper()
	q := url.Values{"filename": {filename}, "subfolder": {subfolder}, "type": {typ}}
	status, data := c.ts.do("GET", "/view?"+q.Encode(), nil)
	if status != http.StatusOK {
		c.t.Fatalf("GET /view?%s: %d %.200s", q.Encode(), status, data)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		c.t.Fatalf("/view %s: %v", filename, err)
	}
	return img
}

// run is ComfyClient.run: it fails the test on an execution_error.
func (c *comfyClient) run(g *graph) execResult {
	c.t.Helper()
	return c.runPartial(g, nil)
}

// runPartial runs g with partial_execution_targets.
func (c *comfyClient) runPartial(g *graph, targets []string) execResult {
	c.t.Helper()
	r := c.exec(g, targets)
	if r.errData != nil {
		c.t.Fatalf("execution_error: %v", r.errData)
	}
	return r
}

// runError runs g, which must end in an execution_error, and returns the
// error's data (the Exception ComfyClient.run raises).
func (c *comfyClient) runError(g *graph) map[string]any {
	c.t.Helper()
	r := c.exec(g, nil)
	if r.errData == nil {
		c.t.Fatalf("should have raised an error; messages:\n%s", r)
	}
	return r.errData
}

// reject queues g, which must fail validation with HTTP 400 (the
// urllib.error.HTTPError of ComfyClient.run).
func (c *comfyClient) reject(g *graph, targets []string) {
	c.t.Helper()
	status, body := c.ts.do("POST", "/prompt", c.body(g, targets))
	if status != http.StatusBadRequest {
		c.t.Fatalf("POST /prompt: %d %s, want 400", status, body)
	}
	c.t.Logf("400 %s", body)
}

// warmup is run_warmup: a small StubImage → PreviewImage prompt. It
// returns the prompt's id.
func (c *comfyClient) warmup(prefix string) string {
	c.t.Helper()
	g := newGraph(prefix)
	img := g.node("StubImage", "content", "BLACK", "height", 32, "width", 32, "batch_size", 1)
	g.node("PreviewImage", "images", img.out(0))
	return c.run(g).promptID
}

// rgbSamples returns the 8-bit R, G and B samples of img: what numpy.array
// holds for the RGB PNG that SaveImage writes.
func rgbSamples(img image.Image) []uint8 {
	b := img.Bounds()
	out := make([]uint8, 0, 3*b.Dx()*b.Dy())
	if rgba, ok := img.(*image.RGBA); ok && rgba.Opaque() {
		// The RGB PNGs of SaveImage decode to this: read the samples
		// directly (the generic path is slow under -race).
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := rgba.Pix[rgba.PixOffset(b.Min.X, y):rgba.PixOffset(b.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				out = append(out, row[i], row[i+1], row[i+2])
			}
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out = append(out, p.R, p.G, p.B)
		}
	}
	return out
}

// pixelRange is numpy's min() and max() over an image's samples.
func pixelRange(img image.Image) (lo, hi uint8) {
	lo, hi = 255, 0
	for _, s := range rgbSamples(img) {
		lo, hi = min(lo, s), max(hi, s)
	}
	return lo, hi
}

// pixelMean is numpy's pixelMean() over an image's samples.
func pixelMean(img image.Image) float64 {
	s := rgbSamples(img)
	sum := 0.0
	for _, v := range s {
		sum += float64(v)
	}
	return sum / float64(len(s))
}

// wantFlat asserts that every sample of img is want (min == max == want).
func wantFlat(t *testing.T, what string, img image.Image, want uint8) {
	t.Helper()
	if lo, hi := pixelRange(img); lo != want || hi != want {
		t.Errorf("%s: samples in [%d, %d], want all %d", what, lo, hi, want)
	}
}

// progressNode is one node's entry in a progress_state message.
type progressNode struct {
	State  string  `json:"state"`
	Parent *string `json:"parent_node_id"`
}

// maxRunning returns the most nodes accepted by match that one
// progress_state message of r shows running at the same time. It proves
// that async nodes overlapped from message order alone, without timing.
func (r runResult) maxRunning(match func(id string, n progressNode) bool) int {
	best := 0
	for _, m := range r.msgs {
		if m.Type != "progress_state" {
			continue
		}
		var d struct {
			Nodes map[string]progressNode `json:"nodes"`
		}
		json.Unmarshal(m.Data, &d)
		running := 0
		for id, n := range d.Nodes {
			if n.State == "running" && match(id, n) {
				running++
			}
		}
		best = max(best, running)
	}
	return best
}

// nodesIn matches the nodes of ns.
func nodesIn(ns ...*gnode) func(string, progressNode) bool {
	return func(id string, _ progressNode) bool {
		for _, n := range ns {
			if n.id == id {
				return true
			}
		}
		return false
	}
}

// childrenOf matches the nodes that parent's expansion created.
func childrenOf(parent *gnode) func(string, progressNode) bool {
	return func(_ string, n progressNode) bool { return n.Parent != nil && *n.Parent == parent.id }
}
