//go:build !linux

package userdata

import (
	"io/fs"
	"time"
)

// changeTime stands in for the ctime that ComfyUI reports as "created":
// the modification time, where reading the ctime is not implemented.
func changeTime(fi fs.FileInfo) time.Time { return fi.ModTime() }
