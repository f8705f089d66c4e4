package executor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/node"
)

func ExampleExecutor_Execute() {
	// A class that outputs a number and shows it as UI.
	number := node.New(node.Info{ID: "Number", Module: "custom_nodes.example", OutputNode: true},
		func(s *node.Schema) node.RunFunc {
			value := s.Int("value")
			return func(ctx context.Context, c *node.Call) error {
				c.UI("text", fmt.Sprint(value.Get(c)))
				return nil
			}
		})
	reg := node.NewRegistry()
	reg.MustAdd(number)
	ex := executor.New(reg, executor.Config{Cache: executor.Classic,
		Now: func() time.Time { return time.UnixMilli(1700000000000) }})

	prompt, _ := node.ParsePrompt([]byte(`{"1": {"class_type": "Number", "inputs": {"value": 42}}}`))
	sink := executor.SinkFunc(func(e executor.Event) {
		if e.Type != "progress_state" {
			fmt.Println(e.Type, e.SID)
		}
	})
	for _, id := range []string{"a", "b"} {
		o := ex.Execute(context.Background(), executor.Job{PromptID: id, Prompt: prompt, ClientID: "me", Outputs: []string{"1"}}, sink)
		ui, _ := o.Outputs.Get("1")
		fmt.Println(o.Success, ui)
	}
	// Output:
	// execution_start me
	// execution_cached me
	// executing me
	// executed me
	// execution_success me
	// true [{text [42]}]
	// execution_start me
	// execution_cached me
	// executed me
	// execution_success me
	// true [{text [42]}]
}
