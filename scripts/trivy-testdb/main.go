// Command trivy-testdb writes a small Trivy vulnerability database (trivy.db and metadata.json,
// schema version db.SchemaVersion) holding only the advisories it is given, through trivy-db's own
// Go package: the same buckets and the same steps (advisory details copied into the platform's
// bucket, vulnerability details normalised into the "vulnerability" bucket, then the staging
// buckets dropped) as trivy-db's builder, so the real Trivy reads it as it reads the public DB.
//
// It exists for tests and the local demo stack, which cannot download the public DB. Usage:
//
//	trivy-testdb -cache-dir DIR [-spec FILE.json]   (the spec is read from stdin without -spec)
//
// The DB lands in DIR/db/, where `trivy --cache-dir DIR` looks for it. The spec:
//
//	{"advisories": [{"platform": "debian 12", "source": "debian", "package": "tini",
//	  "id": "CVE-2099-0001", "fixedVersion": "0.19.0-1+deb12u1", "severity": "CRITICAL",
//	  "title": "…", "description": "…"}]}
//
// "package" is the source package name for Debian (Trivy looks advisories up by it).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	bolt "go.etcd.io/bbolt"
)

// Advisory is one planted finding: a vulnerability of one package on one platform.
type Advisory struct {
	Platform     string `json:"platform"`
	Source       string `json:"source"`
	Package      string `json:"package"`
	ID           string `json:"id"`
	FixedVersion string `json:"fixedVersion"`
	Severity     string `json:"severity"`
	Title        string `json:"title"`
	Description  string `json:"description"`
}

// Spec is the whole input.
type Spec struct {
	Advisories []Advisory `json:"advisories"`
}

func main() {
	cacheDir := flag.String("cache-dir", "", "Trivy cache dir; the DB is written to <cache-dir>/db")
	specFile := flag.String("spec", "", "JSON spec file (default: stdin)")
	flag.Parse()
	if *cacheDir == "" {
		fail("-cache-dir is required")
	}
	spec, err := readSpec(*specFile)
	if err != nil {
		fail(err.Error())
	}
	dbDir := filepath.Join(*cacheDir, "db")
	if err := write(dbDir, spec, time.Now().UTC()); err != nil {
		fail(err.Error())
	}
	fmt.Printf("wrote %s (%d advisories, schema %d)\n", db.Path(dbDir), len(spec.Advisories), db.SchemaVersion)
}

func fail(msg string) {
	fmt.Fprintf(os.Stderr, "trivy-testdb: %s\n", msg)
	os.Exit(1)
}

func readSpec(file string) (Spec, error) {
	var raw []byte
	var err error
	if file == "" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("reading the spec: %w", err)
	}
	var spec Spec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return Spec{}, fmt.Errorf("the spec is not valid JSON of the expected shape: %w", err)
	}
	for i, a := range spec.Advisories {
		if a.Platform == "" || a.Source == "" || a.Package == "" || a.ID == "" {
			return Spec{}, fmt.Errorf("advisory %d: platform, source, package and id are required", i)
		}
		if _, err := types.NewSeverity(a.Severity); err != nil {
			return Spec{}, fmt.Errorf("advisory %d (%s): %w", i, a.ID, err)
		}
	}
	return spec, nil
}

// write replaces any DB in dbDir with one holding exactly the spec's advisories.
func write(dbDir string, spec Spec, now time.Time) error {
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	if err := os.Remove(db.Path(dbDir)); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := db.Init(dbDir); err != nil {
		return fmt.Errorf("opening %s: %w", db.Path(dbDir), err)
	}
	dbc := db.Config{}
	err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
		for _, a := range spec.Advisories {
			sev, _ := types.NewSeverity(a.Severity)
			source := types.SourceID(a.Source)
			if err := dbc.PutDataSource(tx, a.Platform, types.DataSource{ID: source, Name: "ai-fleet test advisories", URL: "https://example.invalid/ai-fleet-testdb"}); err != nil {
				return err
			}
			adv := types.Advisory{FixedVersion: a.FixedVersion, Severity: sev}
			if err := dbc.PutAdvisoryDetail(tx, a.ID, a.Package, []string{a.Platform}, adv); err != nil {
				return err
			}
			detail := types.VulnerabilityDetail{Severity: sev, Title: a.Title, Description: a.Description}
			if err := dbc.PutVulnerabilityDetail(tx, a.ID, source, detail); err != nil {
				return err
			}
			if err := dbc.PutVulnerabilityID(tx, a.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("staging advisories: %w", err)
	}
	// What trivy-db's builder does next: copy each advisory into its platform bucket and
	// normalise the details into one Vulnerability per ID, then drop the staging buckets.
	err = dbc.ForEachVulnerabilityID(func(tx *bolt.Tx, id string) error {
		if err := dbc.SaveAdvisoryDetails(tx, id); err != nil {
			return err
		}
		return dbc.PutVulnerability(tx, id, normalize(id, spec))
	})
	if err != nil {
		return fmt.Errorf("saving advisories: %w", err)
	}
	for _, drop := range []func() error{dbc.DeleteVulnerabilityIDBucket, dbc.DeleteVulnerabilityDetailBucket, dbc.DeleteAdvisoryDetailBucket} {
		if err := drop(); err != nil {
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	meta := metadata.Metadata{Version: db.SchemaVersion, UpdatedAt: now, NextUpdate: now.Add(24 * time.Hour), DownloadedAt: now}
	return metadata.NewClient(dbDir).Update(meta)
}

// normalize merges the spec's entries for one ID into the Vulnerability Trivy reports.
func normalize(id string, spec Spec) types.Vulnerability {
	v := types.Vulnerability{VendorSeverity: types.VendorSeverity{}}
	for _, a := range spec.Advisories {
		if a.ID != id {
			continue
		}
		sev, _ := types.NewSeverity(a.Severity)
		v.VendorSeverity[types.SourceID(a.Source)] = sev
		if v.Title == "" {
			v.Title = a.Title
		}
		if v.Description == "" {
			v.Description = a.Description
		}
		if v.Severity == "" || types.CompareSeverityString(v.Severity, sev.String()) > 0 {
			v.Severity = sev.String()
		}
	}
	return v
}
