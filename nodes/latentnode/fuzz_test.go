package latentnode_test

import (
	"context"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode"
	"github.com/gocomfy/gocomfy/tensor"
)

// RebatchLatents takes latents of any shapes, masks of any rank, batch
// indices of any length and any batch_size from links: it must return
// batches or an error, never panic.
func FuzzRebatchLatents(f *testing.F) {
	f.Add([]byte{2, 1, 4, 2, 2, 0, 0, 3, 1, 2, 2, 2, 4, 2, 1, 16, 16, 1}, int8(2))
	f.Add([]byte{3, 0, 1, 1, 1, 3, 5, 8, 8, 2, 2, 2, 1, 3, 0, 0, 0}, int8(-1))
	f.Add([]byte{1, 3, 4, 1, 1, 5, 1, 1, 1, 1, 1, 2}, int8(0))
	f.Fuzz(func(t *testing.T, spec []byte, batchSize int8) {
		next := func(n int) int {
			if len(spec) == 0 {
				return 0
			}
			v := int(spec[0]) % n
			spec = spec[1:]
			return v
		}
		var list []any
		for range 1 + next(3) {
			shape := []int{next(4), 1 + next(2), next(3), next(3)}
			if next(2) == 1 {
				shape = append(shape, 1+next(2))
			}
			l := &tensor.Latent{Samples: tensor.New(shape...)}
			if rank := next(6); rank > 0 {
				dims := make([]int, rank)
				for i := range dims {
					dims[i] = next(4)
				}
				l.NoiseMask = tensor.New(dims...)
			}
			if n := next(5); n > 0 {
				l.BatchIndex = make([]int, n-1)
			}
			list = append(list, l)
		}
		c := node.NewCall(nil, "1", 0, map[string]any{"latents": list, "batch_size": []any{int64(batchSize)}})
		_ = latentnode.RebatchLatents.Run(context.Background(), c)
	})
}
