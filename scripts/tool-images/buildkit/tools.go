//go:build tools

// Package tools pins the BuildKit release whose buildkitd and buildctl make the offline stand-in
// for moby/buildkit:buildx-stable-1 (scripts/build-tool-images.sh builds them from this module).
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
