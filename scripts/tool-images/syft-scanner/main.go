// Command syft-scanner is the offline stand-in for the docker/buildkit-syft-scanner image's
// entrypoint, used only where that image cannot be pulled. Like the real one it follows
// BuildKit's SBOM generator protocol (moby/buildkit docs/attestations/sbom-protocol.md): it
// catalogs the root filesystem in BUILDKIT_SCAN_SOURCE, and each one in BUILDKIT_SCAN_SOURCE_EXTRAS,
// with Syft, and writes an in-toto statement with an SPDX JSON predicate for each to
// BUILDKIT_SCAN_DESTINATION/<name>.spdx.json. Unlike the real one it is a few lines over Syft's
// library with its default configuration.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/format/spdxjson"
	_ "modernc.org/sqlite" // Syft's RPM cataloger reads newer rpmdb files with it, as the syft CLI does
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "syft-scanner:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dest, src := os.Getenv("BUILDKIT_SCAN_DESTINATION"), os.Getenv("BUILDKIT_SCAN_SOURCE")
	if dest == "" || src == "" {
		return fmt.Errorf("BUILDKIT_SCAN_DESTINATION and BUILDKIT_SCAN_SOURCE must be set (BuildKit sets them)")
	}
	targets := []string{src}
	if extras := os.Getenv("BUILDKIT_SCAN_SOURCE_EXTRAS"); extras != "" {
		entries, err := os.ReadDir(extras)
		if err == nil { // a missing extras folder means none, as the protocol says
			for _, e := range entries {
				targets = append(targets, filepath.Join(extras, e.Name()))
			}
		}
	}
	for _, target := range targets {
		if err := scan(ctx, target, filepath.Join(dest, filepath.Base(target)+".spdx.json")); err != nil {
			return fmt.Errorf("%s: %w", target, err)
		}
	}
	return nil
}

func scan(ctx context.Context, rootfs, out string) error {
	source, err := syft.GetSource(ctx, rootfs, syft.DefaultGetSourceConfig().WithSources("dir"))
	if err != nil {
		return err
	}
	sbom, err := syft.CreateSBOM(ctx, source, syft.DefaultCreateSBOMConfig())
	if err != nil {
		return err
	}
	encoder, err := spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	if err != nil {
		return err
	}
	var document bytes.Buffer
	if err := encoder.Encode(&document, *sbom); err != nil {
		return err
	}
	// BuildKit reads each file as an in-toto statement and fills in its subjects.
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://spdx.dev/Document",
		"predicate":     json.RawMessage(document.Bytes()),
	})
	if err != nil {
		return err
	}
	return os.WriteFile(out, statement, 0o644)
}
