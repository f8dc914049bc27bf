// Command coredns is CoreDNS v1.14.6 (the version kubeadm v1.37.0 pins) with only the plugins
// of kubeadm's Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go). CoreDNS's own main
// imports core/plugin, which links every plugin of its plugin.cfg, the cloud DNS providers' SDKs
// among them; a Corefile that names another plugin fails to start with "unknown directive".
// The directives keep CoreDNS's own order (dnsserver.Directives).
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics" // the prometheus directive
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
