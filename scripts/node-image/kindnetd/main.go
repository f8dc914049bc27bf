// Command kindnetd is the offline stand-in for kind's kindnetd, used only where the real image
// cannot be pulled. Like kindnetd, it runs as kind's default CNI DaemonSet and writes the node's
// CNI configuration (ptp + host-local + portmap) for the Pod CIDR that the API server gave the
// node. Unlike kindnetd, it masquerades through the ptp plugin's ipMasq and sets no routes to
// other nodes: it serves single-node clusters, which is all the course creates.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

const (
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	cniConfigPath     = "/etc/cni/net.d/10-kindnet.conflist"
)

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

func apiClient() (*http.Client, string, error) {
	caPEM, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	return client, "https://" + net.JoinHostPort(host, port), nil
}

// podCIDRs returns the Pod CIDRs of the node whose address is hostIP.
func podCIDRs(client *http.Client, server, hostIP string) ([]string, error) {
	token, err := os.ReadFile(filepath.Join(serviceAccountDir, "token"))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, server+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var nodes nodeList
	if err := json.NewDecoder(resp.Body).Decode(&nodes); err != nil {
		return nil, err
	}
	for _, node := range nodes.Items {
		for _, address := range node.Status.Addresses {
			if address.Address != hostIP {
				continue
			}
			if len(node.Spec.PodCIDRs) > 0 {
				return node.Spec.PodCIDRs, nil
			}
			if node.Spec.PodCIDR != "" {
				return []string{node.Spec.PodCIDR}, nil
			}
			return nil, fmt.Errorf("node %s has no Pod CIDR yet", node.Metadata.Name)
		}
	}
	return nil, fmt.Errorf("no node has the address %s", hostIP)
}

func cniConfig(cidrs []string) ([]byte, error) {
	ranges := [][]map[string]string{}
	routes := []map[string]string{}
	for _, cidr := range cidrs {
		ranges = append(ranges, []map[string]string{{"subnet": cidr}})
		if ip, _, err := net.ParseCIDR(cidr); err == nil && ip.To4() == nil {
			routes = append(routes, map[string]string{"dst": "::/0"})
		} else {
			routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
		}
	}
	config := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": true,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  routes,
					"ranges":  ranges,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(config, "", "  ")
}

// writeAtomically replaces path so that the kubelet never reads a half-written file.
func writeAtomically(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func main() {
	hostIP := os.Getenv("HOST_IP")
	client, server, err := apiClient()
	if err != nil {
		log.Fatalf("in-cluster configuration: %v", err)
	}
	var written []byte
	for {
		cidrs, err := podCIDRs(client, server, hostIP)
		if err != nil {
			log.Printf("waiting for this node's Pod CIDR: %v", err)
			time.Sleep(2 * time.Second)
			continue
		}
		config, err := cniConfig(cidrs)
		if err == nil && string(config) != string(written) {
			if err = writeAtomically(cniConfigPath, config); err == nil {
				written = config
				log.Printf("wrote %s for %v", cniConfigPath, cidrs)
			}
		}
		if err != nil {
			log.Printf("writing %s: %v", cniConfigPath, err)
		}
		time.Sleep(30 * time.Second)
	}
}
