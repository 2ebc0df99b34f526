package fsblob

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how often a Temp starts writeback (see fileWrite).
const writebackChunk = 8 << 20

// startWriteback starts asynchronous writeback of a file range. Errors are
// ignored: this only moves work earlier, and Commit's fsync reports any
// real I/O error.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
