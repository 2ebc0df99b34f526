package upstream

import (
	"net/url"
	"testing"
)

// The upstream's pages are untrusted input: the parsers must never panic,
// whatever the bytes. (They may return a file with an empty name, from
// `<a href=` or "filename": "": the remote service must not offer it.)

func FuzzParseProjectHTML(f *testing.F) {
	f.Add([]byte(`<html><body><a href="../../files/demo-1.0.tar.gz#sha256=` + "00" + `" data-requires-python="&gt;=3.8">demo-1.0.tar.gz</a></body></html>`))
	f.Add([]byte(`<a href='x.whl' data-yanked data-dist-info-metadata="sha256=ab">x</a><a href=`))
	f.Add([]byte(`<!-- <a href="hidden.tar.gz"> --><A HREF=demo-2.0-py3-none-any.whl>`))
	base, _ := url.Parse("https://upstream.example/simple/demo/")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = ParseProjectHTML(body, base)
	})
}

func FuzzParseRootHTML(f *testing.F) {
	f.Add([]byte(`<html><body><a href="/simple/demo/">demo</a><a href="other/">Other_Name</a></body></html>`))
	f.Add([]byte(`<a href="`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = ParseRootHTML(body)
	})
}

func FuzzParseProjectJSON(f *testing.F) {
	f.Add([]byte(`{"meta":{"api-version":"1.1"},"name":"demo","files":[{"filename":"demo-1.0.tar.gz","url":"../demo-1.0.tar.gz","hashes":{"sha256":"00"},"yanked":"bad","core-metadata":{"sha256":"ab"}}],"versions":["1.0"]}`))
	f.Add([]byte(`{"files":[{"filename":"","url":"http://[::1"}]}`))
	base, _ := url.Parse("https://upstream.example/simple/demo/")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = ParseProjectJSON(body, base)
	})
}

func FuzzParseRootJSON(f *testing.F) {
	f.Add([]byte(`{"meta":{"api-version":"1.0"},"projects":[{"name":"demo"},{"name":"Other_Name"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = ParseRootJSON(body)
	})
}
