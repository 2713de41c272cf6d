package checkpoint

import "testing"

func TestTransientNamesTheFileSystemsWhoseFilesGo(t *testing.T) {
	for _, c := range []struct {
		name      string
		magic     uint32
		transient bool
	}{
		{"tmpfs", 0x01021994, true},
		{"ramfs", 0x858458f6, true},
		{"overlayfs", 0x794c7630, true},
		{"ext4", 0xef53, false},
		{"xfs", 0x58465342, false},
		{"nfs", 0x6969, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := transientType(c.magic); (got != "") != c.transient {
				t.Errorf("transientType(%#x) = %q; want transient %v", c.magic, got, c.transient)
			}
		})
	}
	if got := Transient("/nonexistent/auditpull"); got != "" {
		t.Errorf("a directory that cannot be read: %q, want \"\"", got)
	}
}
