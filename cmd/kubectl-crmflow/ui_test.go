package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"
)

// make dev's console holds 127.0.0.1:8089; `kubectl crmflow ui` must not
// default to it, and a port in use is refused naming the flag to change.
func TestUIPortInUseNamesTheFlag(t *testing.T) {
	g := NewWithT(t)
	g.Expect(defaultUIPort).NotTo(Equal(8089), "make dev's console port")
	out, _, _ := runPlugin(t, "ui", "--help")
	g.Expect(out).To(MatchRegexp(`--port int\s+port on 127\.0\.0\.1 \(0 picks a free one\) \(default 8088\)`))

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = busy.Close() }()
	port := busy.Addr().(*net.TCPAddr).Port
	// A kubeconfig is read, never contacted, before the port is taken.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]
current-context: c
`), 0o600)).To(Succeed())
	_, errOut, code := runPlugin(t, "ui", "--kubeconfig", kc, "--port", strconv.Itoa(port))
	g.Expect(code).To(Equal(2))
	g.Expect(errOut).To(ContainSubstring("port " + strconv.Itoa(port) + " on 127.0.0.1 is in use"))
	g.Expect(errOut).To(ContainSubstring("choose another with --port, or --port 0 for a free one"))
}
