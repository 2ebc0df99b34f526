//go:build !linux

package fsblob

import "os"

const writebackChunk = 8 << 20

// startWriteback is a no-op where sync_file_range does not exist; Commit's
// fsync does all the writing there.
func startWriteback(*os.File, int64, int64) {}
