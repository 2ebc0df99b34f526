// Package migrate copies a wharf installation from one pair of backends to
// another (SQLite + files to PostgreSQL + S3, or any pair): every table row
// as stored (IDs, token hashes, wrapped keys and ciphertexts included) and
// every blob, re-hashed on the way. A re-run copies only what is missing or
// changed, so a running installation can be copied once, then again at the
// cut-over (with Prune, deleting there what the source deleted meanwhile).
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/store"
)

// Config names the two installations and how to copy.
type Config struct {
	From, To           store.Store
	FromBlobs, ToBlobs blob.Store
	// DryRun reports what would be copied and writes nothing.
	DryRun bool
	// Force copies into a target that holds rows the source does not
	// have (they are kept). Without it such a target is refused, so a
	// mistyped configuration never merges two installations.
	Force bool
	// Prune deletes the target rows the source does not have, making the
	// target an exact copy: the re-run at the cut-over, after tokens,
	// publishers, policies or secrets were removed (and expired replay
	// records cleaned up) on the running source since the first copy. A
	// removed publisher must not come back to life on the new backends.
	Prune bool
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// Workers copy and hash blobs in parallel; 0 means 4 (object stores
	// answer each request slowly but many at once).
	Workers int
	// Now is the clock of the progress lines; nil means time.Now.
	Now func() time.Time
}

// TableReport is what happened to one table.
type TableReport struct {
	Table     string
	Source    int64 // rows in the source snapshot
	Inserted  int64
	Updated   int64 // present with other values (changed since an earlier run)
	Unchanged int64
	Foreign   int64 // target rows the source does not have
	Deleted   int64 // of those, deleted (Prune)
	Target    int64 // rows in the target afterwards (0 on a dry run)
}

// BlobReport is what happened to the blobs.
type BlobReport struct {
	Source   int64 // blobs a row references, found in the source store (the only ones copied)
	Copied   int64
	Present  int64 // already in the target with the same size
	Bytes    int64 // copied bytes
	Verified int64 // target blobs re-read and hashed in the verification
}

// Report is the outcome of a run.
type Report struct {
	Tables []TableReport
	Blobs  BlobReport
	// Problems are findings that do not stop the copy but make the
	// verification fail: a source blob whose bytes do not match its name,
	// a referenced blob missing, a count that differs.
	Problems []string
}

// ErrVerify is returned (with the report) when the copy finished but the
// verification found problems.
var ErrVerify = errors.New("verification failed")

const op = "migrate.Run"

// batch is how many rows go into one target transaction.
const batch = 500

// Run copies and verifies. The error is ErrVerify (wrapped) when only the
// verification failed; the report is filled as far as the run got.
func Run(ctx context.Context, cfg Config) (Report, error) {
	var rep Report
	from, ok1 := cfg.From.(store.Tables)
	to, ok2 := cfg.To.(store.Tables)
	if !ok1 || !ok2 {
		return rep, errs.E(errs.Invalid, op, errors.New("both stores must offer a row-level view (store.Tables)"))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	m := &run{cfg: cfg, from: from, to: to, rep: &rep}
	err := from.Snapshot(ctx, func(scan func(string, func([]any) error) error) error {
		m.scan = scan
		return m.do(ctx)
	})
	if err != nil {
		return rep, err
	}
	if len(rep.Problems) > 0 {
		return rep, errs.E(errs.Internal, op, fmt.Errorf("%w: %s", ErrVerify, strings.Join(rep.Problems, "; ")))
	}
	return rep, nil
}

type run struct {
	cfg      Config
	from, to store.Tables
	scan     func(string, func([]any) error) error
	rep      *Report
	mu       sync.Mutex // rep.Problems from blob workers
}

func (m *run) printf(format string, args ...any) {
	fmt.Fprintf(m.cfg.Progress, format+"\n", args...)
}

func (m *run) problem(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rep.Problems = append(m.rep.Problems, fmt.Sprintf(format, args...))
}

func (m *run) do(ctx context.Context) error {
	tables := m.from.Tables()
	// 1. What the target holds: key → hash of the row (and its key
	// values, to delete it), per table.
	target := make([]map[string]targetRow, len(tables))
	err := m.to.Snapshot(ctx, func(scan func(string, func([]any) error) error) error {
		for i, t := range tables {
			rows := map[string]targetRow{}
			if err := scan(t.Name, func(r []any) error {
				rows[rowKey(r[:t.Key])] = targetRow{hash: rowHash(r), key: append([]any(nil), r[:t.Key]...)}
				return nil
			}); err != nil {
				return err
			}
			target[i] = rows
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the target database: %w", err)
	}
	// 2. Plan: compare the source rows with the target's, refuse a target
	// holding other data before anything is written.
	m.rep.Tables = make([]TableReport, len(tables))
	referenced := map[string]string{} // blob key → where it is used
	cached := map[string]bool{}       // blobs of the remote cache: copied when the source has them
	var foreign []string
	// present: the hashes of the target rows the source also has; target
	// keeps the others.
	present := make([]map[string][32]byte, len(tables))
	for i, t := range tables {
		tr := &m.rep.Tables[i]
		tr.Table = t.Name
		present[i] = map[string][32]byte{}
		err := m.scan(t.Name, func(r []any) error {
			tr.Source++
			k := rowKey(r[:t.Key])
			tg, ok := target[i][k]
			switch {
			case !ok:
				tr.Inserted++
			case tg.hash == rowHash(r):
				tr.Unchanged++
			default:
				tr.Updated++
			}
			if ok {
				present[i][k] = tg.hash
				delete(target[i], k)
			}
			noteBlobs(t, r, referenced, cached)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the source database: %w", err)
		}
		tr.Foreign = int64(len(target[i]))
		if tr.Foreign > 0 {
			foreign = append(foreign, fmt.Sprintf("%s: %d rows", t.Name, tr.Foreign))
		}
	}
	if len(foreign) > 0 && !m.cfg.Force && !m.cfg.Prune {
		return errs.E(errs.Conflict, op, fmt.Errorf("the target holds data that is not in the source (%s); "+
			"if it is an earlier copy of this installation, run again with --prune to delete there what the source "+
			"deleted since; otherwise point --to-config at an empty database, or add --force to keep it and copy anyway",
			strings.Join(foreign, ", ")))
	}
	onlyTarget := "only in the target"
	if m.cfg.Prune {
		onlyTarget = "only in the target (to delete)"
	}
	for _, tr := range m.rep.Tables {
		m.printf("plan %-16s %7d rows: %d new, %d changed, %d already there, %d %s",
			tr.Table, tr.Source, tr.Inserted, tr.Updated, tr.Unchanged, tr.Foreign, onlyTarget)
	}
	// 3. Blobs first, so no copied row ever names a blob the target lacks.
	// Only blobs a row references: the objects of deleted files, which the
	// source's sweep has not reached yet, would be orphans in the target.
	for k := range referenced {
		delete(cached, k)
	}
	if err := m.copyBlobs(ctx, referenced, cached); err != nil {
		return err
	}
	for k, where := range referenced {
		if _, err := m.cfg.FromBlobs.Stat(ctx, k); errors.Is(err, blob.ErrNotFound) {
			m.problem("blob %s (%s) is referenced but missing from the source store", k, where)
		}
	}
	if m.cfg.DryRun {
		m.printf("dry run: nothing was written")
		return nil
	}
	// 4. Deletions (Prune), children first, before any insert: a row the
	// source replaced (a policy removed, then created again under the same
	// name) must leave before its successor's unique name arrives.
	if m.cfg.Prune {
		for i := len(tables) - 1; i >= 0; i-- {
			if err := m.prune(ctx, tables[i].Name, &m.rep.Tables[i], target[i]); err != nil {
				return err
			}
		}
	}
	// 5. Rows, parents first, in batches.
	for i, t := range tables {
		tr := &m.rep.Tables[i]
		if tr.Inserted+tr.Updated == 0 {
			continue
		}
		var ins, upd [][]any
		flush := func() error {
			if len(ins)+len(upd) == 0 {
				return nil
			}
			err := m.to.WriteRows(ctx, t.Name, ins, upd)
			ins, upd = ins[:0], upd[:0]
			return err
		}
		err := m.scan(t.Name, func(r []any) error {
			h, ok := present[i][rowKey(r[:t.Key])]
			switch {
			case !ok:
				ins = append(ins, append([]any(nil), r...))
			case h != rowHash(r):
				upd = append(upd, append([]any(nil), r...))
			default:
				return nil
			}
			if len(ins)+len(upd) >= batch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("copying %s: %w", t.Name, err)
		}
		m.printf("copied %-14s %7d new, %d updated", t.Name, tr.Inserted, tr.Updated)
	}
	if err := m.to.AfterCopy(ctx); err != nil {
		return err
	}
	// 6. Verify: counts per table, every referenced blob present, every
	// target blob re-hashed.
	for i := range m.rep.Tables {
		tr := &m.rep.Tables[i]
		n, err := m.to.CountRows(ctx, tr.Table)
		if err != nil {
			return err
		}
		tr.Target = n
		if want := tr.Source + tr.Foreign - tr.Deleted; n != want {
			m.problem("%s: %d rows in the target, want %d", tr.Table, n, want)
		}
	}
	for k, where := range referenced {
		if _, err := m.cfg.ToBlobs.Stat(ctx, k); err != nil {
			if _, serr := m.cfg.FromBlobs.Stat(ctx, k); serr == nil { // missing in both: reported above
				m.problem("blob %s (%s) is missing from the target store: %v", k, where, err)
			}
		}
	}
	return m.verifyBlobs(ctx)
}

// targetRow is what the plan keeps of a target row.
type targetRow struct {
	hash [32]byte
	key  []any
}

// prune deletes the target rows of table the source does not have, in
// batches.
func (m *run) prune(ctx context.Context, table string, tr *TableReport, absent map[string]targetRow) error {
	if len(absent) == 0 {
		return nil
	}
	keys := make([][]any, 0, min(len(absent), batch))
	for _, r := range absent {
		keys = append(keys, r.key)
		if len(keys) == batch {
			if err := m.to.DeleteRows(ctx, table, keys); err != nil {
				return fmt.Errorf("deleting from %s: %w", table, err)
			}
			tr.Deleted += int64(len(keys))
			keys = keys[:0]
		}
	}
	if err := m.to.DeleteRows(ctx, table, keys); err != nil {
		return fmt.Errorf("deleting from %s: %w", table, err)
	}
	tr.Deleted += int64(len(keys))
	m.printf("deleted %-13s %7d rows the source no longer has", table, tr.Deleted)
	return nil
}

// noteBlobs records the blob keys a row references: a file's in into, a
// remote-cache entry's in cached.
func noteBlobs(t store.Table, r []any, into map[string]string, cached map[string]bool) {
	if t.Name != "files" && t.Name != "remote_files" {
		return
	}
	for i, c := range t.Columns {
		if c != "sha256" && c != "metadata_sha256" {
			continue
		}
		if k, _ := r[i].(string); k != "" {
			if t.Name == "remote_files" {
				// A remote file is in the blob store only once it was
				// downloaded through wharf; the map row comes first.
				cached[k] = true
				continue
			}
			into[k] = fmt.Sprintf("%s %s of %v", t.Name, c, r[0])
		}
	}
}

// copyBlobs copies the referenced source blobs the target lacks,
// re-hashing each; a referenced blob missing from the source is reported
// by the caller, a cached one the source never fetched is skipped.
func (m *run) copyBlobs(ctx context.Context, referenced map[string]string, cached map[string]bool) error {
	g, gctx := errgroup.WithContext(ctx)
	keys := make(chan blob.Info)
	br := &m.rep.Blobs
	var copied, present, bytesCopied, listed atomic.Int64
	start := m.cfg.Now()
	for range m.cfg.Workers {
		g.Go(func() error {
			for in := range keys {
				if ti, err := m.cfg.ToBlobs.Stat(gctx, in.Key); err == nil && ti.Size == in.Size {
					present.Add(1)
					continue
				} else if err != nil && !errors.Is(err, blob.ErrNotFound) {
					return fmt.Errorf("target blob %s: %w", in.Key, err)
				}
				if m.cfg.DryRun {
					copied.Add(1)
					bytesCopied.Add(in.Size)
					continue
				}
				n, err := m.copyBlob(gctx, in.Key)
				if err != nil {
					return err
				}
				bytesCopied.Add(n)
				if c := copied.Add(1); c%200 == 0 {
					m.printf("blobs: %d copied (%.1f MB), %d already there", c, float64(bytesCopied.Load())/1e6, present.Load())
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(keys)
		for k := range keysOf(referenced, cached) {
			in, err := m.cfg.FromBlobs.Stat(gctx, k)
			if errors.Is(err, blob.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("source blob %s: %w", k, err)
			}
			listed.Add(1)
			select {
			case keys <- in:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	err := g.Wait()
	br.Source, br.Copied, br.Present, br.Bytes = listed.Load(), copied.Load(), present.Load(), bytesCopied.Load()
	verb := "copied"
	if m.cfg.DryRun {
		verb = "to copy"
	}
	m.printf("blobs: %d in the source, %d %s (%.1f MB), %d already there (%s)",
		br.Source, br.Copied, verb, float64(br.Bytes)/1e6, br.Present, m.cfg.Now().Sub(start).Round(time.Millisecond))
	return err
}

// keysOf yields the keys of both maps.
func keysOf(referenced map[string]string, cached map[string]bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range referenced {
			if !yield(k) {
				return
			}
		}
		for k := range cached {
			if !yield(k) {
				return
			}
		}
	}
}

// copyBlob streams one blob into the target. A blob whose bytes do not
// hash to its name is not copied and is reported.
func (m *run) copyBlob(ctx context.Context, key string) (int64, error) {
	src, err := m.cfg.FromBlobs.Open(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) { // deleted since the listing
			return 0, nil
		}
		return 0, fmt.Errorf("source blob %s: %w", key, err)
	}
	defer src.Close()
	tmp, err := m.cfg.ToBlobs.Create(ctx)
	if err != nil {
		return 0, fmt.Errorf("target blob store: %w", err)
	}
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Abort()
		return 0, fmt.Errorf("copying blob %s: %w", key, err)
	}
	if got := tmp.SHA256(); got != key {
		tmp.Abort()
		m.problem("source blob %s holds bytes hashing to %s; not copied", key, got)
		return 0, nil
	}
	info, err := tmp.Commit(ctx)
	if err != nil {
		return 0, fmt.Errorf("storing blob %s: %w", key, err)
	}
	return info.Size, nil
}

// verifyBlobs re-reads every blob in the target and checks its hash.
func (m *run) verifyBlobs(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	keys := make(chan string)
	var verified atomic.Int64
	start := m.cfg.Now()
	for range m.cfg.Workers {
		g.Go(func() error {
			h := sha256.New()
			buf := make([]byte, 256<<10)
			for k := range keys {
				o, err := m.cfg.ToBlobs.Open(gctx, k)
				if err != nil {
					m.problem("target blob %s cannot be read: %v", k, err)
					continue
				}
				h.Reset()
				_, err = io.CopyBuffer(h, o, buf)
				o.Close()
				if err != nil {
					m.problem("target blob %s cannot be read: %v", k, err)
					continue
				}
				if got := hex.EncodeToString(h.Sum(nil)); got != k {
					m.problem("target blob %s hashes to %s", k, got)
				}
				verified.Add(1)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(keys)
		for in, err := range m.cfg.ToBlobs.List(gctx) {
			if err != nil {
				return fmt.Errorf("listing target blobs: %w", err)
			}
			select {
			case keys <- in.Key:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	err := g.Wait()
	m.rep.Blobs.Verified = verified.Load()
	m.printf("verified: %d tables counted, %d target blobs re-hashed (%s), %d problems",
		len(m.rep.Tables), m.rep.Blobs.Verified, m.cfg.Now().Sub(start).Round(time.Millisecond), len(m.rep.Problems))
	return err
}

// rowKey encodes primary-key values as a map key.
func rowKey(vals []any) string {
	var b []byte
	for _, v := range vals {
		b = appendValue(b, v)
	}
	return string(b)
}

// rowHash is a digest of a whole row, to tell a changed row from a copied
// one without keeping the target's rows in memory.
func rowHash(vals []any) [32]byte {
	var b []byte
	for _, v := range vals {
		b = appendValue(b, v)
	}
	return sha256.Sum256(b)
}

// appendValue is an unambiguous encoding: a type tag, then a length or
// the fixed-size value.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case int64:
		b = append(b, 'i')
		return binary.BigEndian.AppendUint64(b, uint64(x))
	case bool:
		if x {
			return append(b, 'T')
		}
		return append(b, 'F')
	case string:
		b = append(b, 's')
		b = binary.BigEndian.AppendUint32(b, uint32(min(len(x), math.MaxUint32)))
		return append(b, x...)
	case []byte:
		b = append(b, 'x')
		b = binary.BigEndian.AppendUint32(b, uint32(min(len(x), math.MaxUint32)))
		return append(b, x...)
	default:
		return fmt.Appendf(append(b, '?'), "%v", x)
	}
}
