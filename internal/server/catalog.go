package server

import "context"

// backfill records the details (core metadata, provenance) of files stored
// before wharf kept them. Idempotent, so every replica may run it; a file
// is read once.
func (s *Server) backfill(ctx context.Context) {
	n, err := s.Hosted.Backfill(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("backfilling file details failed; it is retried at the next start or with wharf catalog backfill", "filled", n, "error", err)
	case n > 0:
		s.log.Info("file details backfilled", "files", n)
	}
}
