// Package hello is an example gocomfy extension: one node, one HTTP route
// and one web directory, the Go counterparts of a ComfyUI custom node pack's
// NODE_CLASS_MAPPINGS, PromptServer routes and WEB_DIRECTORY.
//
// A server with the extension is a main that adds it to an App:
//
//	app := gocomfy.New(gocomfy.Config{})
//	hello.Register(app)
//	log.Fatal(app.Run(ctx))
package hello

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gocomfy/gocomfy"
	"github.com/gocomfy/gocomfy/node"
)

// Greet makes a greeting from a name, and shows it in the frontend.
var Greet = node.New(node.Info{
	ID: "HelloGreet", DisplayName: "Hello Greet", Category: "examples", Module: "custom_nodes.hello",
	Description: "Greets someone.", OutputNode: true,
}, func(s *node.Schema) node.RunFunc {
	name := s.String("name").Default("world")
	shout := s.Bool("shout").Default(false)
	out := node.Output(s, node.String, "STRING")
	return func(ctx context.Context, c *node.Call) error {
		text := "Hello, " + name.Get(c) + "!"
		if shout.Get(c) {
			text = strings.ToUpper(text)
		}
		out.Set(c, text)
		c.UI("text", text)
		return nil
	}
})

//go:embed web
var web embed.FS

// Register adds the extension to app: the HelloGreet node, GET /hello/ping
// (also /api/hello/ping) and /extensions/hello/.
func Register(app *gocomfy.App) {
	app.Nodes().MustAdd(Greet)
	app.Handle("GET /hello/ping", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("pong"))
	}))
	sub, _ := fs.Sub(web, "web")
	app.WebDirectory("hello", sub)
}
