package catalog

import (
	"net/url"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// JSONLinks are the absolute URLs a JSON API response points at.
type JSONLinks struct {
	// Page is the project's simple page; file URLs are resolved against
	// it, and it is the response's package_url and project_url.
	Page *url.URL
	// Release returns the URL of a release's JSON.
	Release func(version string) string
}

// PyPIJSON builds the PyPI JSON API response for the project: for version
// "" the latest release with every release listed (GET /pypi/<p>/json),
// otherwise that release only (GET /pypi/<p>/<version>/json); errs.NotFound
// when the release does not exist.
func PyPIJSON(p Project, version string, serial int64, links JSONLinks) (pypi.JSONProject, error) {
	var (
		rel Release
		ok  bool
	)
	if version == "" {
		rel, ok = p.Latest()
	} else {
		rel, ok = p.Release(version)
	}
	if !ok {
		what := "has no release"
		if version != "" {
			what = "has no release '" + version + "'"
		}
		return pypi.JSONProject{}, errs.Errorf(errs.NotFound, "catalog", "project '%s' %s", p.Name, what)
	}
	out := pypi.JSONProject{
		Info:            info(p, rel, links),
		LastSerial:      serial,
		URLs:            files(rel, links),
		Vulnerabilities: []any{},
	}
	if version == "" {
		out.Releases = make(map[string][]pypi.JSONFile, len(p.Releases))
		for _, r := range p.Releases {
			out.Releases[r.Version] = files(r, links)
		}
	}
	return out, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func info(p Project, r Release, links JSONLinks) pypi.JSONInfo {
	m := r.Metadata
	if m == nil {
		m = &registry.CoreMetadata{}
	}
	name := p.DisplayName
	if m.Name != "" {
		name = m.Name
	}
	requires := m.RequiresPython
	if requires == "" && len(r.Files) > 0 {
		requires = r.Files[0].RequiresPython
	}
	page := links.Page.String()
	in := pypi.JSONInfo{
		Author: m.Author, AuthorEmail: m.AuthorEmail,
		Classifiers: m.Classifiers, Description: m.Description,
		DescriptionContentType: nullable(m.DescriptionContentType),
		DownloadURL:            m.DownloadURL,
		Downloads:              pypi.JSONDownloads{LastDay: p.Downloads.LastDay, LastWeek: p.Downloads.LastWeek, LastMonth: p.Downloads.LastMonth},
		Dynamic:                m.Dynamic, HomePage: m.HomePage, Keywords: m.Keywords,
		License: m.License, LicenseExpression: nullable(m.LicenseExpression), LicenseFiles: m.LicenseFiles,
		Maintainer: m.Maintainer, MaintainerEmail: m.MaintainerEmail,
		Name: name, PackageURL: page, ProjectURL: page,
		ProjectURLs:   pypi.ProjectURLMap(m.ProjectURLs),
		ProvidesExtra: m.ProvidesExtra, RequiresDist: m.RequiresDist, RequiresPython: requires,
		Summary: m.Summary, Version: r.Version,
		Yanked: r.Yanked, YankedReason: nullable(r.YankedReason),
	}
	if links.Release != nil {
		in.ReleaseURL = links.Release(r.Version)
	}
	if in.Classifiers == nil {
		in.Classifiers = []string{}
	}
	if len(m.Platforms) > 0 {
		in.Platform = &m.Platforms[0]
	}
	return in
}

func files(r Release, links JSONLinks) []pypi.JSONFile {
	out := make([]pypi.JSONFile, 0, len(r.Files))
	for _, f := range r.Files {
		u := f.URL
		if ref, err := url.Parse(f.URL); err == nil && links.Page != nil {
			u = links.Page.ResolveReference(ref).String()
		}
		jf := pypi.JSONFile{
			CoreMetadata: false,
			Digests:      pypi.JSONDigests{BLAKE2b256: f.BLAKE2b256, MD5: f.MD5, SHA256: f.SHA256},
			Downloads:    -1,
			Filename:     f.Filename, MD5Digest: f.MD5,
			Packagetype: string(f.Filetype), PythonVersion: f.PythonVersion,
			RequiresPython: nullable(f.RequiresPython), Size: f.Size,
			URL: u, Yanked: f.Yanked, YankedReason: nullable(f.YankedReason),
		}
		if f.MetadataSHA256 != "" {
			jf.CoreMetadata = map[string]string{"sha256": f.MetadataSHA256}
		}
		if !f.UploadedAt.IsZero() {
			t := f.UploadedAt.UTC()
			jf.UploadTime = t.Format("2006-01-02T15:04:05")
			jf.UploadTimeISO8601 = t.Format("2006-01-02T15:04:05.000000Z")
		}
		if f.Provenance.Kind != "" {
			prov := f.Provenance
			jf.Provenance = &prov
		}
		out = append(out, jf)
	}
	return out
}

// FromPage builds a project from a simple-API page, for repositories whose
// files wharf did not receive (remote caches, and virtual repositories,
// whose page comes from the member that supplies the project). meta is the
// core metadata of the latest release, when it could be read.
func FromPage(repo string, page pypi.ProjectPage, meta *registry.CoreMetadata) Project {
	p := Project{Repo: repo, Name: page.Name, DisplayName: page.DisplayName}
	fs := make([]File, 0, len(page.Files))
	for _, e := range page.Files {
		ft := registry.Sdist
		pyver := "source"
		if d, err := pypi.ParseFilename(e.Filename); err == nil && d.Kind == pypi.WheelDist {
			ft, pyver = registry.Wheel, d.PythonTag
		}
		version := e.Version
		if version == "" {
			if d, err := pypi.ParseFilename(e.Filename); err == nil {
				version = d.Version
			}
		}
		fs = append(fs, File{URL: e.URL, File: registry.File{
			Filename: e.Filename, Version: version, Filetype: ft, PythonVersion: pyver,
			RequiresPython: e.RequiresPython, Size: e.Size, SHA256: e.SHA256,
			MetadataSHA256: e.CoreMetadataSHA256, Yanked: e.Yanked, YankedReason: e.YankedReason,
			UploadedAt: e.UploadTime,
		}})
	}
	p.Releases = group(fs)
	if l, ok := p.Latest(); ok {
		for i := range p.Releases {
			if p.Releases[i].Version == l.Version {
				p.Releases[i].Metadata = meta
			}
		}
		if meta != nil {
			p.Summary = meta.Summary
		}
	}
	for _, f := range fs {
		if f.UploadedAt.After(p.LastUpload) {
			p.LastUpload = f.UploadedAt
		}
	}
	return p
}
