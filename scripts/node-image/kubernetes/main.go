// Package main is empty: this module exists so that `go build k8s.io/kubernetes/cmd/...`
// resolves the staging modules through the replace directives in go.mod.
package main
