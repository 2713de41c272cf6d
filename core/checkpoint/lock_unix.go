//go:build unix

package checkpoint

import (
	"errors"
	"os"
	"syscall"
)

// flock takes f's exclusive lock without waiting. The lock belongs to the
// open file, so a second open of the same path conflicts even within one
// process, and the kernel drops it when the process dies.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return ErrInUse
		}
		return err
	}
}
