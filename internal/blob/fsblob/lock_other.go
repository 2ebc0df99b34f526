//go:build !unix

package fsblob

import (
	"errors"
	"os"
)

// lockFile: no owner locks on this platform; temporaries are swept by
// age only.
func lockFile(f *os.File) error { return errors.ErrUnsupported }
