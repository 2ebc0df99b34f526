package ui

import (
	"bytes"
	"html/template"
	"mime"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
)

// describer turns a project's long description into safe HTML: Markdown
// (GitHub-flavoured) is rendered, raw HTML in it kept as PyPI's
// readme_renderer keeps it, and everything then passes a sanitizer that
// removes scripts, event handlers, styles and any link that is not http,
// https or mailto. reStructuredText and plain text are shown as
// preformatted text. The sanitizer is the safety; the page's CSP is the
// second line.
type describer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

func newDescriber() *describer {
	p := bluemonday.UGCPolicy()
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	// Task lists from GFM render as disabled checkboxes.
	p.AllowAttrs("type").Matching(bluemonday.SpaceSeparatedTokens).OnElements("input")
	p.AllowAttrs("checked", "disabled").OnElements("input")
	p.AllowAttrs("class").Matching(bluemonday.SpaceSeparatedTokens).OnElements("code")
	return &describer{
		md: goldmark.New(
			goldmark.WithExtensions(extension.GFM),
			goldmark.WithParserOptions(parser.WithAutoHeadingID()),
			goldmark.WithRendererOptions(html.WithUnsafe()),
		),
		policy: p,
	}
}

// description is a rendered description for the template.
type description struct {
	HTML template.HTML // sanitized; empty when Text is used
	Text string        // shown preformatted
	Kind string        // "markdown", "restructuredtext", "text"
}

// render renders body according to its Description-Content-Type.
func (d *describer) render(body, contentType string) description {
	if strings.TrimSpace(body) == "" {
		return description{}
	}
	kind := "restructuredtext" // the core metadata default
	if ct, _, err := mime.ParseMediaType(contentType); err == nil {
		switch ct {
		case "text/markdown":
			kind = "markdown"
		case "text/plain":
			kind = "text"
		}
	}
	if kind != "markdown" {
		return description{Text: body, Kind: kind}
	}
	var buf bytes.Buffer
	if err := d.md.Convert([]byte(body), &buf); err != nil {
		return description{Text: body, Kind: "text"}
	}
	return description{HTML: template.HTML(d.policy.SanitizeBytes(buf.Bytes())), Kind: kind} //nolint:gosec // sanitized above
}
