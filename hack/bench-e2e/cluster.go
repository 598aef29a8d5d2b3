package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// k8sVersion is the control-plane version hack/build-control-plane.sh builds
// into bin/k8s/<version> (the k8s.io libraries of go.mod).
const k8sVersion = "1.37.2"

// controlPlane is etcd (with fsync, its data on disk) and kube-apiserver,
// started from the binaries in bin/k8s, with a static-token admin.
type controlPlane struct {
	dir        string
	etcd       *process
	apiserver  *process
	url        string
	token      string
	cfg        *rest.Config
	kubeconfig string
	http       *http.Client
}

// assetsDir is where etcd and kube-apiserver are: KUBEBUILDER_ASSETS, or
// bin/k8s/<version> under root.
func assetsDir(root string) string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(root, "bin", "k8s", k8sVersion)
}

// startControlPlane starts etcd and kube-apiserver under dir and waits until
// the API server is ready.
func startControlPlane(ctx context.Context, root, dir string) (*controlPlane, error) {
	assets := assetsDir(root)
	cp := &controlPlane{dir: dir}
	etcdPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	// No --unsafe-no-fsync: every write is synced, as in a real cluster.
	cp.etcd, err = startProcess(dir, "etcd", filepath.Join(assets, "etcd"), []string{
		"--name=bench", "--data-dir=" + filepath.Join(dir, "etcd-data"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=bench=" + peerURL, "--log-level=warn",
		"--quota-backend-bytes=8589934592",
	}, nil)
	if err != nil {
		return nil, err
	}

	tokenBytes := make([]byte, 16)
	if _, err := rand.Read(tokenBytes); err != nil {
		return cp, err
	}
	cp.token = hex.EncodeToString(tokenBytes)
	tokenFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(cp.token+`,bench-admin,bench-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return cp, err
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(saKey); err != nil {
		return cp, err
	}
	port, err := freePort()
	if err != nil {
		return cp, err
	}
	cp.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	cp.apiserver, err = startProcess(dir, "kube-apiserver", filepath.Join(assets, "kube-apiserver"), []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--service-account-issuer=" + cp.url + "/",
		"--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey,
	}, nil)
	if err != nil {
		return cp, err
	}
	cp.cfg = &rest.Config{
		Host: cp.url, BearerToken: cp.token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		// The default client-side limit (QPS 5) would measure the limiter.
		QPS: 5000, Burst: 10000,
	}
	cp.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the local API server's self-signed certificate
	deadline := time.Now().Add(90 * time.Second)
	for {
		if !cp.etcd.running() {
			return cp, fmt.Errorf("etcd exited:\n%s", cp.etcd.tail(20))
		}
		if !cp.apiserver.running() {
			return cp, fmt.Errorf("kube-apiserver exited:\n%s", cp.apiserver.tail(20))
		}
		if body, err := cp.get(ctx, "/readyz"); err == nil && strings.TrimSpace(body) == "ok" {
			break
		}
		if time.Now().After(deadline) {
			return cp, fmt.Errorf("kube-apiserver not ready after 90s:\n%s", cp.apiserver.tail(20))
		}
		time.Sleep(200 * time.Millisecond) // polling a starting process
	}
	cp.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := cp.writeKubeconfig(); err != nil {
		return cp, err
	}
	return cp, nil
}

// get reads path of the API server as the admin.
func (cp *controlPlane) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cp.url+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+cp.token)
	resp, err := cp.http.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), nil
}

func (cp *controlPlane) writeKubeconfig() error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: cp.url, InsecureSkipTLSVerify: true}
	kc.AuthInfos["bench-admin"] = &clientcmdapi.AuthInfo{Token: cp.token}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench-admin"}
	kc.CurrentContext = "bench"
	if err := clientcmd.WriteToFile(*kc, cp.kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// stop stops kube-apiserver, then etcd.
func (cp *controlPlane) stop() {
	if cp == nil {
		return
	}
	cp.apiserver.stop(20 * time.Second)
	cp.etcd.stop(20 * time.Second)
}

func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate service-account key: %w", err)
	}
	raw := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return os.WriteFile(path, raw, 0o600)
}

// newScheme knows the built-in types, CRDs and crmflow's types.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// installCRDs creates every CRD of config/crd/bases and waits until each is
// established.
func installCRDs(ctx context.Context, c client.Client, root string) error {
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs in %s (run from the repository root or pass -root)", filepath.Join(root, "config", "crd", "bases"))
	}
	var names []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			return fmt.Errorf("read CRD %s: %w", f, err)
		}
		if err := c.Create(ctx, &crd); err != nil {
			return fmt.Errorf("create CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range names {
		for {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
				return err
			}
			if established(&crd) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established after 60s", name)
			}
			time.Sleep(100 * time.Millisecond) // polling the API server
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
