package registry

import "fmt"

// FormatBytes writes n (a size limit in a message) exactly, in the largest
// unit that needs at most one decimal: "2 KiB", "1.5 MiB", "100 MiB",
// "2000 bytes" (not "0 MiB", nor a rounded "2.0 KiB").
func FormatBytes(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	for u := len(units) - 1; u > 0; u-- {
		div := int64(1) << (10 * u)
		if n < div || (n*10)%div != 0 {
			continue
		}
		if n%div == 0 {
			return fmt.Sprintf("%d %s", n/div, units[u])
		}
		return fmt.Sprintf("%.1f %s", float64(n)/float64(div), units[u])
	}
	return fmt.Sprintf("%d bytes", n)
}
