package httpapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// minGzipSize is the smallest page worth compressing: below it the gzip
// header and a client's inflate cost more than the bytes saved.
const minGzipSize = 1 << 10

// gzipVariant is the gzip-encoded form of a cached page, made on the first
// request that accepts it and kept with the page: a 10,000-project root of
// 459 KiB is sent as ~50 KiB to pip (which always asks for gzip) at the
// cost of compressing it once per rendering, not once per request.
type gzipVariant struct {
	once    sync.Once
	body    []byte // nil when compressing did not make the page smaller
	etag    string
	etagHdr []string
	lenHdr  []string
}

// get compresses body on first use.
func (g *gzipVariant) get(body []byte, etag string) *gzipVariant {
	g.once.Do(func() {
		if g.body = gzipBytes(body); g.body == nil {
			return
		}
		// A strong ETag names one representation (RFC 9110 §8.8.3): the
		// compressed bytes get their own.
		g.etag = strings.TrimSuffix(etag, `"`) + `-gz"`
		g.etagHdr, g.lenHdr = []string{g.etag}, []string{strconv.Itoa(len(g.body))}
	})
	if g.body == nil {
		return nil
	}
	return g
}

// gzipBytes compresses body, or returns nil when it is under minGzipSize
// or does not get smaller.
func gzipBytes(body []byte) []byte {
	if len(body) < minGzipSize {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	zw.Write(body)
	zw.Close()
	if buf.Len() >= len(body) {
		return nil
	}
	return buf.Bytes()
}

var (
	varyAcceptEncoding = []string{"Accept, Accept-Encoding"}
	encodingGzip       = []string{"gzip"}
)

// acceptsGzip reports whether the Accept-Encoding header allows gzip: a
// "gzip" (or "x-gzip") or "*" coding with a non-zero q-value, "gzip"
// taking precedence over "*".
func acceptsGzip(r *http.Request) bool {
	values := r.Header.Values("Accept-Encoding")
	star := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			ok := qNonZero(params)
			if coding == "*" {
				star = ok
				continue
			}
			return ok
		}
	}
	return star
}

// qNonZero reads the q parameter of an Accept-Encoding element; absent
// means 1.
func qNonZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q > 0
	}
	return true
}
