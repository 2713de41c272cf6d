package checkpoint

import "syscall"

// Transient says, for a checkpoint directory on a file system whose files
// do not outlive the machine or the container, what it is and when its
// files go; "" for any other file system, or when it cannot tell. A
// checkpoint lost that way is no error anyone sees: the next start finds
// none and reads the whole initial lookback again.
func Transient(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	return transientType(uint32(st.Type)) //nolint:gosec // f_type is a 32-bit magic number, wider on some architectures
}

// The statfs(2) magic numbers of linux/magic.h.
const (
	tmpfsMagic   = 0x01021994
	ramfsMagic   = 0x858458f6
	overlayMagic = 0x794c7630
)

func transientType(magic uint32) string {
	switch magic {
	case tmpfsMagic, ramfsMagic:
		return "a file system in memory (tmpfs), whose files go at a reboot (with the pod, for a Kubernetes emptyDir in memory)"
	case overlayMagic:
		return "a container's own file system (overlayfs), whose files go when the container is created again"
	}
	return ""
}
