package httpapi

import (
	"net/http"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]bool{
		"":                              false,
		"gzip":                          true,
		"gzip, deflate":                 true, // pip (requests)
		"gzip, deflate, br, zstd":       true, // uv
		"deflate, br":                   false,
		"GZIP;q=0.5":                    true,
		"gzip;q=0":                      false,
		"gzip; q=0.000":                 false,
		"*":                             true,
		"*;q=0":                         false,
		"*, gzip;q=0":                   false, // gzip's own q wins over *
		"gzip;q=0, *":                   false,
		"identity;q=1, *;q=0":           false,
		"x-gzip":                        true,
		"br;q=1.0, gzip;q=0.8, *;q=0.1": true,
		"gzip;q=nonsense":               false,
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("Accept-Encoding", header)
		}
		if got := acceptsGzip(r); got != want {
			t.Errorf("Accept-Encoding %q: acceptsGzip = %v, want %v", header, got, want)
		}
	}
}
