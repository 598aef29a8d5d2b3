package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// lastApplied is the annotation `kubectl apply` (client-side) keeps the
// applied configuration in and three-way-merges against.
const lastApplied = corev1.LastAppliedConfigAnnotation

// samplesResult is what applySamples tells the banner.
type samplesResult struct {
	// dir holds the local copies of the samples (bin/dev/samples).
	dir string
	// hints name workflows whose email goes to a placeholder SMTP host.
	hints []string
}

// applySamples creates the Secrets the samples reference (pointing at the
// local CRM), writes the samples of config/samples, with their SMTP
// connection aimed at the local mailbox, to <state>/samples, and creates
// those Workflows that do not exist yet as `kubectl apply -f` would (with the
// last-applied-configuration annotation), so that the user's own
// `kubectl apply -f <state>/samples/<file>` later merges cleanly. A Workflow
// that exists (from the last run, or changed by the user) is kept as it is.
func applySamples(ctx context.Context, c client.Client, root, state, namespace string, crm *localCRM) (samplesResult, error) {
	res := samplesResult{dir: filepath.Join(state, "samples")}
	if namespace != "default" {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return res, fmt.Errorf("create namespace %s: %w", namespace, err)
		}
	}
	secrets := []*corev1.Secret{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-notify", Namespace: namespace},
			StringData: map[string]string{
				"vip-support-url": crm.NotifyURL("vip-support"),
				"support-url":     crm.NotifyURL("support"),
				"sales-url":       crm.NotifyURL("sales"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-hooks", Namespace: namespace},
			StringData: map[string]string{
				"webhook-url":      crm.URL("/webhook/default"),
				"external-crm-url": crm.URL("/webhook/external-crm"),
				"zapier-url":       crm.URL("/zapier/default"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-smtp", Namespace: namespace},
			StringData: map[string]string{"username": "dev", "password": "dev"},
		},
	}
	for _, s := range secrets {
		if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
			return res, fmt.Errorf("create secret %s: %w", s.Name, err)
		}
	}

	host, port := crm.SMTPHostPort()
	files, err := writeLocalSamples(root, res.dir, namespace, host, port)
	if err != nil {
		return res, err
	}
	byName := map[string]string{} // workflow name → its local sample file
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return res, err
		}
		u, err := applyConfiguration(raw)
		if err != nil {
			return res, fmt.Errorf("read %s: %w", f, err)
		}
		byName[u.GetName()] = f
		if u.GetNamespace() != namespace {
			// The user's edited copy names another namespace: not ours to create.
			say("skipped %s: it names namespace %q, not %s", f, u.GetNamespace(), namespace)
			continue
		}
		err = c.Create(ctx, u)
		switch {
		case apierrors.IsAlreadyExists(err):
			say("workflow %s/%s is already there (kept from the last run)", namespace, u.GetName())
		case err != nil:
			return res, fmt.Errorf("apply sample %s: %w", f, err)
		default:
			say("applied workflow %s/%s from %s", namespace, u.GetName(), f)
		}
	}

	// A workflow whose email goes to a placeholder host (config/samples'
	// smtp.example.com, applied as it is) fails every sendEmail here with
	// "no such host": say so in the banner, with the fix.
	var wfs v1alpha1.WorkflowList
	if err := c.List(ctx, &wfs, client.InNamespace(namespace)); err != nil {
		return res, fmt.Errorf("list workflows: %w", err)
	}
	for i := range wfs.Items {
		wf := &wfs.Items[i]
		conn := wf.Spec.Connections
		if conn == nil || conn.SMTP == nil || !placeholderHost(conn.SMTP.Host) {
			continue
		}
		at := conn.SMTP.Host
		if conn.SMTP.Port != 0 {
			at = fmt.Sprintf("%s:%d", at, conn.SMTP.Port)
		}
		hint := fmt.Sprintf("workflow %s/%s sends email via %s, a placeholder that fails here (no such host);\n", namespace, wf.Name, at)
		if f, ok := byName[wf.Name]; ok {
			hint += fmt.Sprintf("    to use the local mailbox: kubectl apply -f %s", shellQuote(f))
		} else {
			hint += fmt.Sprintf("    to use the local mailbox, set connections.smtp: {host: %s, port: %d, tls: None}", host, port)
		}
		res.hints = append(res.hints, hint)
	}
	return res, nil
}

// placeholderHost reports whether host is under a name reserved for
// examples (RFC 2606), such as config/samples' smtp.example.com.
func placeholderHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range []string{"example.com", "example.net", "example.org", "example", "invalid", "test"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

// generatedRecord, in the samples directory, holds the SHA-256 of each
// file as make dev last wrote it: a file that no longer matches was edited
// by the user and is kept.
const generatedRecord = ".generated.json"

// writeLocalSamples writes each config/samples/crmflow_v1alpha1_*.yaml to
// dir, patched for this machine, unless the user edited the copy there, and
// returns the paths of the local copies.
func writeLocalSamples(root, dir, namespace, host string, port int) ([]string, error) {
	srcs, err := filepath.Glob(filepath.Join(root, "config", "samples", "crmflow_v1alpha1_*.yaml"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	record := map[string]string{}
	recordPath := filepath.Join(dir, generatedRecord)
	if b, err := os.ReadFile(recordPath); err == nil {
		_ = json.Unmarshal(b, &record) // unreadable: treat every file as edited
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []string
	for _, src := range srcs {
		raw, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(src)
		dst := filepath.Join(dir, name)
		local, err := localSample(raw, filepath.Join("config", "samples", name), dst, namespace, host, int32(port))
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", src, err)
		}
		cur, err := os.ReadFile(dst)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		case bytes.Equal(cur, local):
		case record[name] != sha(cur):
			say("kept %s: you changed it (delete it to get config/samples' version back)", dst)
			out = append(out, dst)
			continue
		}
		if err := os.WriteFile(dst, local, 0o644); err != nil {
			return nil, err
		}
		record[name] = sha(local)
		out = append(out, dst)
	}
	b, _ := json.MarshalIndent(record, "", "  ")
	if err := os.WriteFile(recordPath, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var (
	smtpLine     = regexp.MustCompile(`^(\s*)smtp:(.*)$`)
	metadataLine = regexp.MustCompile(`^metadata:\s*(#.*)?$`)
)

// localSample is a sample Workflow's YAML with its SMTP connection aimed at
// the local mailbox (host:port, no TLS, no credentials) and its namespace
// set, the rest (comments too) as it was. It edits the text, and checks the
// result against the same changes made to the parsed Workflow; when they
// differ (a layout the text edit does not know), it writes that Workflow.
func localSample(raw []byte, src, dst, namespace, host string, port int32) ([]byte, error) {
	var want v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(raw, &want); err != nil {
		return nil, err
	}
	want.Namespace = namespace
	smtp := (*v1alpha1.SMTPConnection)(nil)
	if conn := want.Spec.Connections; conn != nil && conn.SMTP != nil {
		smtp = conn.SMTP
		smtp.Host, smtp.Port, smtp.TLS = host, port, v1alpha1.SMTPNone
		smtp.CredentialsSecretRef = nil
	}

	email := ""
	if smtp != nil {
		email = fmt.Sprintf(", email to the local mailbox %s:%d (no TLS, no credentials)", host, port)
	}
	header := fmt.Sprintf(`# Written by make dev from %s for this machine: namespace %s%s.
# Edit it and apply it:  kubectl apply -f %s
# make dev keeps a copy you changed (delete it to get the original back). The file in
# config/samples points at a placeholder SMTP host, for a real cluster.
`, src, namespace, email, shellQuote(dst))

	lines := strings.Split(string(raw), "\n")
	var body []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if metadataLine.MatchString(l) && want.Namespace != "" {
			body = append(body, l, "  namespace: "+namespace)
			continue
		}
		if m := smtpLine.FindStringSubmatch(l); m != nil && smtp != nil {
			indent := m[1]
			// Drop the old mapping: the rest of this line, and deeper-indented lines below.
			for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || leadingSpaces(lines[i+1]) > len(indent)) {
				i++
			}
			rendered, err := yaml.Marshal(smtp)
			if err != nil {
				return nil, err
			}
			body = append(body, indent+"smtp:")
			for _, r := range strings.Split(strings.TrimRight(string(rendered), "\n"), "\n") {
				body = append(body, indent+"  "+r)
			}
			continue
		}
		body = append(body, l)
	}
	out := []byte(header + strings.Join(body, "\n"))

	var got v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(out, &got); err == nil && reflect.DeepEqual(got, want) {
		return out, nil
	}
	// Not a layout the text edit knows: write the Workflow itself (comments lost).
	obj, err := runtimeObject(&want)
	if err != nil {
		return nil, err
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), b...), nil
}

// runtimeObject is wf as a map without the fields a manifest leaves out
// (status, creationTimestamp).
func runtimeObject(wf *v1alpha1.Workflow) (map[string]any, error) {
	b, err := json.Marshal(wf)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	m["apiVersion"], m["kind"] = v1alpha1.GroupVersion.String(), "Workflow"
	return m, nil
}

func leadingSpaces(s string) int {
	return len(s) - len(strings.TrimLeft(s, " "))
}

// applyConfiguration is the object `kubectl apply -f` would create from a
// manifest: the manifest, with the last-applied-configuration annotation
// holding the manifest itself as JSON (as kubectl writes it), which a later
// `kubectl apply -f` of the changed file merges against.
func applyConfiguration(manifest []byte) (*unstructured.Unstructured, error) {
	j, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	delete(ann, lastApplied)
	// Empty, it is kept as "annotations": {}, as kubectl keeps it: a byte-for-byte
	// equal annotation makes re-applying the unchanged file a no-op ("unchanged").
	u.SetAnnotations(ann)
	applied, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	ann[lastApplied] = string(applied) // JSON with a newline at the end, as kubectl's encoder writes it
	u.SetAnnotations(ann)
	return u, nil
}

// shellQuote quotes s for a POSIX shell when it needs it, so banner lines
// can be pasted as they are.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
