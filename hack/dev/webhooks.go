package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// webhookCerts is a CA and a serving certificate for 127.0.0.1 signed by it,
// kept in dir (ca.crt, tls.crt, tls.key: the names controller-runtime's
// webhook server reads from --webhook-cert-dir).
type webhookCerts struct {
	dir   string
	caPEM []byte
}

// ensureWebhookCerts reuses the certificates in dir while they stay valid for
// another day, and otherwise writes new ones.
func ensureWebhookCerts(dir string, now time.Time) (*webhookCerts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if caPEM, err := os.ReadFile(caFile); err == nil {
		if pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")); err == nil &&
			pair.Leaf != nil && pair.Leaf.NotAfter.After(now.Add(24*time.Hour)) {
			return &webhookCerts{dir: dir, caPEM: caPEM}, nil
		}
	}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	notBefore := now.Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "crmflow dev webhook CA"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode serving key: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		"ca.crt":  caPEM,
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	say("generated a CA and a serving certificate for the webhooks in %s", dir)
	return &webhookCerts{dir: dir, caPEM: caPEM}, nil
}

// waitForWebhookServer waits until the manager's webhook server answers a TLS
// handshake that trusts our CA, the manager exits, or ctx ends.
func waitForWebhookServer(ctx context.Context, addr string, caPEM []byte, exited <-chan struct{}) error {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		d := tls.Dialer{Config: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the manager exited before its webhook server came up; see its log above")
		case <-tick.C:
		}
	}
}

// registerWebhooks installs the webhook configurations of
// config/webhook/manifests.yaml with the API server, each webhook pointing at
// https://<addr><path> and trusting caPEM — what envtest's
// WebhookInstallOptions does, with certificates that outlive the process.
func registerWebhooks(ctx context.Context, c client.Client, manifests, addr string, caPEM []byte) error {
	raw, err := os.ReadFile(manifests)
	if err != nil {
		return fmt.Errorf("read webhook manifests: %w", err)
	}
	rewrite := func(cc *admissionv1.WebhookClientConfig) {
		path := "/"
		if cc.Service != nil && cc.Service.Path != nil {
			path = *cc.Service.Path
		}
		url := "https://" + addr + path
		cc.Service, cc.URL, cc.CABundle = nil, &url, caPEM
	}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	n := 0
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", manifests, err)
		}
		var probe struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return fmt.Errorf("decode %s: %w", manifests, err)
		}
		var obj client.Object
		switch probe.Kind {
		case "MutatingWebhookConfiguration":
			m := &admissionv1.MutatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict(doc, m); err != nil {
				return fmt.Errorf("decode %s: %w", probe.Kind, err)
			}
			for i := range m.Webhooks {
				rewrite(&m.Webhooks[i].ClientConfig)
			}
			obj = m
		case "ValidatingWebhookConfiguration":
			v := &admissionv1.ValidatingWebhookConfiguration{}
			if err := yaml.UnmarshalStrict(doc, v); err != nil {
				return fmt.Errorf("decode %s: %w", probe.Kind, err)
			}
			for i := range v.Webhooks {
				rewrite(&v.Webhooks[i].ClientConfig)
			}
			obj = v
		default:
			continue
		}
		obj.SetName("crmflow-dev-" + obj.GetName())
		if err := createOrReplace(ctx, c, obj); err != nil {
			return fmt.Errorf("register %s %s: %w", probe.Kind, obj.GetName(), err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no webhook configurations in %s", manifests)
	}
	say("registered the admission webhooks (https://%s, %d configurations)", addr, n)
	return nil
}

// createOrReplace creates obj, or replaces the stored object of that name.
func createOrReplace(ctx context.Context, c client.Client, obj client.Object) error {
	err := c.Create(ctx, obj)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	current := obj.DeepCopyObject().(client.Object)
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), current); err != nil {
		return err
	}
	obj.SetResourceVersion(current.GetResourceVersion())
	return c.Update(ctx, obj)
}

// webhookAddr is 127.0.0.1:<port>.
func webhookAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
