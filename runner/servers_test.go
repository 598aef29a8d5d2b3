package runner

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// delivery is one side effect a real server received, in arrival order.
type delivery struct {
	Via    string // "http" or "smtp"
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// SMTP
	From string
	To   []string
	User string
	TLS  bool
}

// world is the outside world of a seed test: one HTTP server on 127.0.0.1
// (CRM sink, notification hooks, webhooks) and one SMTP server, both
// writing to one ordered log.
type world struct {
	mu   sync.Mutex
	log  []delivery
	http *httptest.Server
	// respond, when set, answers the n-th HTTP request (0-based).
	respond func(n int, w http.ResponseWriter)

	smtpHost string
	smtpPort int
	roots    *x509.CertPool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{}
	w.http = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		n := 0
		for _, d := range w.log {
			if d.Via == "http" {
				n++
			}
		}
		w.log = append(w.log, delivery{Via: "http", Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		respond := w.respond
		w.mu.Unlock()
		if respond != nil {
			respond(n, rw)
			return
		}
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(w.http.Close)
	w.startSMTP(t)
	return w
}

func (w *world) deliveries() []delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]delivery(nil), w.log...)
}

// startSMTP runs github.com/emersion/go-smtp with STARTTLS (a self-signed
// certificate) and AUTH PLAIN for user mailer/pw.
func (w *world) startSMTP(t *testing.T) {
	cert, roots := selfSigned(t)
	w.roots = roots
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{w: w, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	w.smtpHost = host
	w.smtpPort, _ = strconv.Atoi(port)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

type smtpSession struct {
	w    *world
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "mailer" || password != "pw" {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.log = append(s.w.log, delivery{Via: "smtp", From: s.from, To: s.to, Body: data, User: s.user, TLS: isTLS})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	notBefore := time.Now().Add(-time.Hour) // crypto/tls checks validity against the wall clock
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crmflow engine test SMTP"},
		NotBefore: notBefore, NotAfter: notBefore.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// header is a shorthand for one header of a delivery.
func (d delivery) header(k string) string { return d.Header.Get(k) }

// contains reports whether the SMTP data holds s.
func (d delivery) contains(s string) bool { return bytes.Contains(d.Body, []byte(s)) }
