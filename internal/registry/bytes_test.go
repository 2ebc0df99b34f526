package registry

import "testing"

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		900: "900 bytes", 2000: "2000 bytes", 2560: "2.5 KiB", 2048: "2 KiB", 8 << 10: "8 KiB", 1536 << 10: "1.5 MiB",
		100 << 20: "100 MiB", 1 << 30: "1 GiB", 0: "0 bytes",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
