package resample

import (
	"runtime"
	"sync"
)

// minParallelWork is the amount of work (in elementary operations) below
// which starting goroutines costs more than it saves.
const minParallelWork = 1 << 15

// Parallel calls fn over [0, n) split into contiguous chunks, one per CPU
// (runtime.GOMAXPROCS), and returns when all are done. work is the rough cost
// of one item; small jobs run on the calling goroutine. The image nodes use it
// too, to split rows or frames across cores.
func Parallel(n, work int, fn func(lo, hi int)) {
	procs := min(runtime.GOMAXPROCS(0), n)
	if procs <= 1 || n*work < minParallelWork {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range procs {
		lo, hi := i*n/procs, (i+1)*n/procs
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}
