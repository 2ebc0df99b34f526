package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// docBlock is one fenced sh block of a document, with the e2e tag of the
// HTML comment that precedes it.
type docBlock struct {
	line int
	tag  string // "install", "publish", "publish dist", "skip (…)"
	text string
}

// shellBlocks returns the ```sh blocks of a Markdown file. Every one must
// carry an <!-- e2e: … --> tag on the line before its fence, so a snippet
// added to the page is either run here or says why not.
func shellBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []docBlock
		cur    *docBlock
		prev   string
		n      int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.TrimSpace(line) == "```sh":
			tag, ok := strings.CutPrefix(strings.TrimSpace(prev), "<!-- e2e: ")
			if !ok {
				t.Errorf("%s:%d: a sh block without an <!-- e2e: install|publish|publish dist|skip (why) --> line before it", path, n)
			}
			cur = &docBlock{line: n, tag: strings.TrimSuffix(tag, " -->")}
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestClientsDoc runs every shell snippet of docs/clients.md, as written but
// for the server's address, against a real server with the real clients:
// publishing snippets from a fresh copy of a fixture project (dist/ built
// first when the snippet uploads dist/*), then installing snippets, each of
// which must install the last version published.
func TestClientsDoc(t *testing.T) {
	t.Parallel()
	blocks := shellBlocks(t, filepath.Join("..", "docs", "clients.md"))
	bash := requireTool(t, "bash")
	s := startServer(t)
	const project = "wharf-publish"
	upload := s.scopedToken(t, "wharf-*", "upload,read", "1h")
	read := s.scopedToken(t, project, "read", "1h")
	env := []string{"UPLOAD_TOKEN=" + upload, "READ_TOKEN=" + read}
	rewrite := func(text string) string {
		return strings.ReplaceAll(text, "127.0.0.1:8080", s.addr)
	}
	// Publishing first, so installing has something to install.
	order := slices.Clone(blocks)
	slices.SortStableFunc(order, func(a, b docBlock) int {
		return boolInt(!strings.HasPrefix(a.tag, "publish")) - boolInt(!strings.HasPrefix(b.tag, "publish"))
	})
	var lastVersion string
	ran := 0
	for i, b := range order {
		name := fmt.Sprintf("clients.md:%d", b.line)
		switch {
		case strings.HasPrefix(b.tag, "skip"):
			t.Logf("%s: not run: %s", name, b.tag)
			continue
		case strings.HasPrefix(b.tag, "publish"):
			for _, tool := range []string{"twine", "flit", "poetry", "pdm"} {
				if strings.Contains(b.text, tool+" ") {
					requireTool(t, tool)
				}
			}
			version := fmt.Sprintf("9.%d.0", i)
			dir := fixture(t, project, version)
			var built []string
			if b.tag == "publish dist" {
				built = buildDists(t, dir)
			}
			r := runCmd(t, cmdSpec{name: bash, args: []string{"-euo", "pipefail", "-c", rewrite(b.text)}, dir: dir, env: env})
			if r.code != 0 {
				t.Errorf("%s failed:\n%s\n%s", name, b.text, r)
				continue
			}
			if built == nil {
				built = dists(t, dir)
			}
			page, _ := s.projectJSON(t, project)
			if !slices.Contains(page.Versions, version) {
				t.Errorf("%s: the index has versions %v after the snippet, want %s among them", name, page.Versions, version)
			}
			for _, f := range built {
				checkIndexedFile(t, s, page, f)
			}
			lastVersion = version
		case b.tag == "install":
			if lastVersion == "" {
				t.Fatalf("%s: no publishing snippet ran before it", name)
			}
			requireTool(t, "pip")
			target := filepath.Join(t.TempDir(), "target")
			// Where pip installs, and permission to do so outside a
			// virtualenv (Debian marks its Python externally managed).
			r := runCmd(t, cmdSpec{name: bash, args: []string{"-euo", "pipefail", "-c", rewrite(b.text)}, dir: t.TempDir(),
				env: append(env, "PIP_TARGET="+target, "PIP_BREAK_SYSTEM_PACKAGES=1", "PIP_NO_DEPS=1")})
			if r.code != 0 {
				t.Errorf("%s failed:\n%s\n%s", name, b.text, r)
				continue
			}
			if got := installedVersion(t, target, "wharf_publish"); got != lastVersion {
				t.Errorf("%s installed %s, want %s", name, got, lastVersion)
			}
		default:
			t.Errorf("%s: unknown e2e tag %q", name, b.tag)
			continue
		}
		ran++
	}
	if ran < 8 {
		t.Errorf("ran %d snippets of docs/clients.md, want at least 8", ran)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
