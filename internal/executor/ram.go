package executor

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// ramPolicy holds the RAM-pressure cache's headrooms and reads available
// RAM. Reading /proc/meminfo costs microseconds, so the default reader is
// consulted at most every ramProbeInterval; between reads the last value,
// lowered by nothing and raised by evictions, stands in.
type ramPolicy struct {
	active, inactive uint64
	read             func() (uint64, bool)
	throttle         bool

	at    time.Time
	avail uint64
	known bool
}

const ramProbeInterval = 20 * time.Millisecond

const gb = 1 << 30

func newRAMPolicy(cfg Config) *ramPolicy {
	p := &ramPolicy{active: cfg.RAMHeadroom, inactive: cfg.RAMInactiveHeadroom, read: cfg.MemAvailable}
	if p.read == nil {
		p.read = func() (uint64, bool) {
			v, ok := meminfo("MemAvailable:")
			return v, ok
		}
		p.throttle = true
	}
	if p.active == 0 {
		// ComfyUI: min(10, max(2, 10 % of the total)) GB.
		total, _ := meminfo("MemTotal:")
		p.active = min(10*gb, max(2*gb, total/10))
	}
	if p.inactive == 0 {
		p.inactive = p.active
	}
	return p
}

// available returns the RAM available for allocations.
func (p *ramPolicy) available() (uint64, bool) {
	if p.throttle && p.known && time.Since(p.at) < ramProbeInterval {
		return p.avail, true
	}
	p.avail, p.known = p.read()
	p.at = time.Now()
	return p.avail, p.known
}

// estimate records the available RAM estimated after evictions.
func (p *ramPolicy) estimate(avail uint64) { p.avail = avail }

// meminfo returns a field of /proc/meminfo in bytes.
func meminfo(field string) (uint64, bool) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseMeminfo(data, field)
}

// parseMeminfo finds "Field:   1234 kB" in /proc/meminfo's text.
func parseMeminfo(data []byte, field string) (uint64, bool) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte(field))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, false
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			v *= 1024
		}
		return v, true
	}
	return 0, false
}
