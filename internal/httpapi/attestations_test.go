package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// PEP 740 attestations sent with an upload (uv does) are kept with the file,
// marked unverified, and shown with its provenance; a field that is not a
// JSON array of objects is refused.
func TestUploadKeepsAttestations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const att = `[{"version":1,"verification_material":{"certificate":"MIIB","transparency_entries":[]},"envelope":{"statement":"eyJ9","signature":"c2ln"}}]`
	name, content := wheel(t, "attested", "1.0")
	ct, body := uploadBody(t, "attested", "1.0", name, content, func(f map[string]string) { f["attestations"] = att })
	if resp := e.post(t, "local", e.upload, ct, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload with attestations: %s", resp.Status)
	}
	resp, page := e.get(t, "/local/pypi/attested/json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON API: %s\n%s", resp.Status, page)
	}
	var doc struct {
		URLs []map[string]json.RawMessage `json:"urls"`
	}
	if err := json.Unmarshal([]byte(page), &doc); err != nil || len(doc.URLs) != 1 {
		t.Fatalf("JSON API page: %v\n%s", err, page)
	}
	var prov struct {
		Attestations json.RawMessage `json:"attestations"`
		Status       string          `json:"attestations_status"`
	}
	if err := json.Unmarshal(doc.URLs[0]["wharf:provenance"], &prov); err != nil {
		t.Fatalf("wharf:provenance: %v\n%s", err, page)
	}
	if prov.Status != "unverified" || !strings.Contains(string(prov.Attestations), `"signature":"c2ln"`) {
		t.Errorf("provenance kept attestations %s with status %q; want them, unverified", prov.Attestations, prov.Status)
	}

	for _, bad := range []string{`not json`, `{"version":1}`, `[]`, `[1, 2]`} {
		name, content := wheel(t, "attested", "1.1")
		ct, body := uploadBody(t, "attested", "1.1", name, content, func(f map[string]string) { f["attestations"] = bad })
		resp := e.post(t, "local", e.upload, ct, body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Status, "attestations") {
			t.Errorf("attestations %q: %s, want 400 naming the field", bad, resp.Status)
		}
	}
}
