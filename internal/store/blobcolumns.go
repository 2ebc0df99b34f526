package store

// BlobColumns returns the indexes of t's columns that name a blob by its
// sha256 (a file's content or its core metadata), for the copiers that must
// bring a row's blobs along with it (wharf migrate, wharf backup). A new
// table that references blobs adds its columns here.
func BlobColumns(t Table) []int {
	if t.Name != "files" && t.Name != "remote_files" {
		return nil
	}
	var idx []int
	for i, c := range t.Columns {
		if c == "sha256" || c == "metadata_sha256" {
			idx = append(idx, i)
		}
	}
	return idx
}
