// Package blobstore keeps the server's outputs, input uploads and asset
// content on a bucket that every instance reaches, so that several
// gocomfy instances sharing one queue can serve and load each other's
// files: an S3 bucket or S3-compatible store (s3://, through the AWS
// SDK), or a shared folder (file://).
//
// # Keys
//
// A file of folder t named name (clean, slash-separated, relative to the
// folder, as internal/files gives it) is the object "t/name":
// "output/sub/ComfyUI_00001_.png", "input/cat.png". Key is the only place
// that builds keys, and its callers pass names that went through
// files.CleanName (uploads: WriteFile; reads: files.Folders.Resolve), so
// a request cannot name a key that no local path could name. The content
// of assets (internal/asset's store) is the object
// "assets/blake3/ab/cd/<digest>" (BlobKey), sharded as on disk.
//
// # Consistency
//
// Mirror uploads in the background: a file is served by the instance that
// wrote it at once (from its folder) and by the others once its upload is
// done, normally well under a second after the write; /upload/image waits
// for it (Mirror.Await), and an asset upload for its blob (PutBlob). The
// temp folder is not mirrored; see Mirror.
package blobstore

import (
	"mime"

	"github.com/gocomfy/gocomfy/internal/files"
)

// mtimeKey is the S3 metadata key holding the file's modification time
// (Unix nanoseconds) at upload, so that every instance sends the ETag and
// Last-Modified that the writing instance sends for its local file.
const mtimeKey = "mtime"

// contentType is the type an object is stored with: the extension's, else
// application/octet-stream.
func contentType(name string) string {
	_, ext := files.SplitExt(name)
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
