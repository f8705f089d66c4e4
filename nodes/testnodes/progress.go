package testnodes

import (
	"context"
	"time"

	"github.com/gocomfy/gocomfy/node"
)

// progressBar is comfy.utils.ProgressBar, which TestSleep and
// TestAsyncBatchProcessing report through: values are clamped to the total,
// and updates are throttled as ComfyUI's are (the first and the final one are
// always sent, others at most every 100 ms and after 0.5 % of progress).
type progressBar struct {
	c        *node.Call
	total    float64
	current  float64
	lastSent float64 // -1 before the first update
	lastTime time.Time
}

func newProgressBar(c *node.Call, total float64) *progressBar {
	return &progressBar{c: c, total: total, lastSent: -1}
}

// updateAbsolute reports that v of the total is done.
func (p *progressBar) updateAbsolute(v float64) {
	v = min(v, p.total)
	p.current = v
	now := time.Now()
	if p.lastSent >= 0 && v < p.total {
		percent := 100.0
		if p.total > 0 {
			percent = (v - max(0, p.lastSent)) / p.total * 100
		}
		if now.Sub(p.lastTime) < 100*time.Millisecond || percent < 0.5 {
			return
		}
	}
	p.c.Progress(v, p.total)
	p.lastTime, p.lastSent = now, v
}

// update reports delta more units done.
func (p *progressBar) update(delta float64) { p.updateAbsolute(p.current + delta) }

// sleepReporting sleeps secs seconds in 10 ms steps, as the pack's sleeping
// nodes do, calling report with the elapsed seconds before each step. Like
// theirs, the loop runs once more after the time is up, and not at all for
// secs <= 0.
func sleepReporting(ctx context.Context, secs float64, report func(elapsed float64)) error {
	start := time.Now()
	for elapsed := 0.0; elapsed < secs; {
		elapsed = time.Since(start).Seconds()
		report(elapsed)
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// The nodes of api_test_nodes.py: progress through comfy_api's
// execution.set_progress (no throttling, value as a fraction of 1.0), from
// an async and from a sync function.

// TestAsyncProgressUpdate sleeps sleep_seconds, reporting progress, and
// outputs its value.
var TestAsyncProgressUpdate = progressUpdate(async(info("TestAsyncProgressUpdate", "Async Progress Update Test Node", asyncCategory)))

// TestSyncProgressUpdate is TestAsyncProgressUpdate run synchronously.
var TestSyncProgressUpdate = progressUpdate(info("TestSyncProgressUpdate", "Sync Progress Update Test Node", asyncCategory))

func progressUpdate(i node.Info) *node.Class {
	return node.New(i, func(s *node.Schema) node.RunFunc {
		s.AnyOf("value", "*").EmptyOptions()
		secs := s.Float("sleep_seconds").Default(1)
		out := s.OutputOf("*", "*")
		return func(ctx context.Context, c *node.Call) error {
			total := secs.Get(c)
			err := sleepReporting(ctx, total, func(elapsed float64) { c.Progress(elapsed/total, 1) })
			if err != nil {
				return err
			}
			out.Set(c, input(c, "value"))
			return nil
		}
	})
}
