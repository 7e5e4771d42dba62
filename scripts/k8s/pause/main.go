// Command pause is the pod sandbox's process: it holds the pod's namespaces, reaps orphans and
// exits on SIGINT/SIGTERM. The cluster the tests start cannot pull registry.k8s.io/pause, so
// scripts/kubernetes.sh builds this into a one-layer image and imports it under that name.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
