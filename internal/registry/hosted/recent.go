package hosted

import (
	"sync"

	"github.com/wharf-dev/wharf/internal/registry"
)

// maxRecent bounds the files remembered for downloads while the database
// is unreachable (a few hundred bytes each); when full the memory starts
// over.
const maxRecent = 1 << 16

type recentKey struct {
	repo     int64
	filename string
}

// recentFiles remembers the file rows downloads found, so a replica that
// loses its database keeps serving the files it was serving: the URL names
// the sha256, so a remembered row can never serve other content. Only used
// when the database cannot answer.
type recentFiles struct {
	mu sync.RWMutex
	m  map[recentKey]registry.File
}

func (r *recentFiles) get(repo int64, filename string) (registry.File, bool) {
	r.mu.RLock()
	f, ok := r.m[recentKey{repo, filename}]
	r.mu.RUnlock()
	return f, ok
}

// put remembers f; the common case (already remembered, unchanged) takes
// only the read lock and allocates nothing.
func (r *recentFiles) put(f registry.File) {
	k := recentKey{f.RepoID, f.Filename}
	r.mu.RLock()
	old, ok := r.m[k]
	r.mu.RUnlock()
	if ok && old == f {
		return
	}
	r.mu.Lock()
	if r.m == nil || len(r.m) >= maxRecent {
		r.m = make(map[recentKey]registry.File)
	}
	r.m[k] = f
	r.mu.Unlock()
}

func (r *recentFiles) forget(repo int64, filename string) {
	r.mu.Lock()
	delete(r.m, recentKey{repo, filename})
	r.mu.Unlock()
}
