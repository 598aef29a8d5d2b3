package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// sendOptions are the flags of `kubectl crmflow send`.
type sendOptions struct {
	url       string
	file      string
	eventType string
	source    string
	subject   string
	id        string
	data      string
	eventTime string
	token     string
	hmacKey   string
	timeout   time.Duration
}

func newSendCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, clk clock.PassiveClock) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:   "send --url URL (--type TYPE --source SOURCE [--subject S] [--data JSON] | -f EVENT.json)",
		Short: "Post a CloudEvent to the crmflow receiver",
		Long: `send posts one CloudEvent to crmflow's receiver in HTTP binary mode, to
<url>/v1/namespaces/<namespace>/events, where <namespace> is -n/--namespace
(or your kubeconfig's current namespace): the Active workflows of that
namespace that listen to the event's type see it. It prints the receiver's answer.

Build the event from flags, or read it from a file in the CloudEvents JSON
format with -f (flags given as well override the file's attributes).

Reach an in-cluster receiver with a port-forward first:

  kubectl -n crmflow-system port-forward service/crmflow-receiver 8080:8080

A namespace that holds a Secret named crmflow-intake requires its credential:
--token for key "token" (sent as a bearer token) or --hmac-key for key
"hmacKey": the request is signed in X-Crmflow-Signature over the signing
time (X-Crmflow-Timestamp, the current time; the receiver refuses it after
5 minutes), Content-Type, every ce-* header and the body, so neither the
attributes nor the body can be changed and it cannot be replayed later.
CRMFLOW_TOKEN and CRMFLOW_HMAC_KEY set them from the environment.

Exit status: 0 when the receiver accepted the event (2xx), 1 when it refused it.`,
		Example: `  kubectl crmflow send -n sales --url http://127.0.0.1:8080 \
    --type lead.created --source crm.example.com --subject c-42 \
    --data '{"lead":{"id":"l-1","source":"Website","contactId":"c-42"},"contact":{"email":"ann@example.com","firstName":"Ann"}}'

  kubectl crmflow send -n sales --url http://127.0.0.1:8080 -f lead-created.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return fmt.Errorf("resolve namespace: %w", err)
			}
			return o.run(cmd.Context(), streams.Out, ns, clk)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the crmflow receiver")
	f.StringVarP(&o.file, "file", "f", "", "read the event from this file (CloudEvents JSON format)")
	f.StringVar(&o.eventType, "type", "", "the event's type, e.g. lead.created")
	f.StringVar(&o.source, "source", "", "the event's source, e.g. crm.example.com (default kubectl-crmflow)")
	f.StringVar(&o.subject, "subject", "", "the event's subject: the contact id in crmflow's catalogue")
	f.StringVar(&o.id, "id", "", "the event's id (default: a random id; resend the same id to test duplicate delivery)")
	f.StringVar(&o.data, "data", "", "the event's JSON data, or @FILE to read it from a file")
	f.StringVar(&o.eventTime, "time", "", "the event's time, RFC 3339 (default: now)")
	f.StringVar(&o.token, "token", os.Getenv("CRMFLOW_TOKEN"), "bearer token of the namespace's crmflow-intake Secret")
	f.StringVar(&o.hmacKey, "hmac-key", os.Getenv("CRMFLOW_HMAC_KEY"), "HMAC key of the namespace's crmflow-intake Secret; signs the timestamp, ce-* headers and body")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for the receiver's answer")
	return cmd
}

// event builds the CloudEvent from the file and the flags.
func (o *sendOptions) event(clk clock.PassiveClock) (*v1alpha1.CloudEvent, []byte, error) {
	ev := &v1alpha1.CloudEvent{}
	if o.file != "" {
		var err error
		if ev, err = readEventFile(o.file); err != nil {
			return nil, nil, err
		}
	}
	for _, kv := range []struct {
		flag string
		dst  *string
	}{{o.eventType, &ev.Type}, {o.source, &ev.Source}, {o.subject, &ev.Subject}, {o.id, &ev.ID}} {
		if kv.flag != "" {
			*kv.dst = kv.flag
		}
	}
	if ev.Type == "" {
		return nil, nil, fmt.Errorf("the event needs a type: --type or -f")
	}
	if ev.Source == "" {
		ev.Source = "kubectl-crmflow"
	}
	if ev.ID == "" {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("generate an event id: %w", err)
		}
		ev.ID = hex.EncodeToString(b)
	}
	var data []byte
	if ev.Data != nil {
		data = ev.Data.Raw
	}
	if o.data != "" {
		data = []byte(o.data)
		if path, ok := strings.CutPrefix(o.data, "@"); ok {
			raw, err := os.ReadFile(path)
			if err != nil {
				return nil, nil, fmt.Errorf("read --data: %w", err)
			}
			data = raw
		}
	}
	if len(data) > 0 && !json.Valid(data) {
		return nil, nil, fmt.Errorf("the event data is not JSON: %.80s", data)
	}
	when := clk.Now()
	if ev.Time != nil {
		when = ev.Time.Time
	}
	if o.eventTime != "" {
		t, err := time.Parse(time.RFC3339Nano, o.eventTime)
		if err != nil {
			return nil, nil, fmt.Errorf("--time %q is not RFC 3339: %w", o.eventTime, err)
		}
		when = t
	}
	mt := metav1.NewTime(when)
	ev.Time = &mt
	ev.Data, ev.DataContentType = nil, ""
	if len(data) > 0 {
		// The data is JSON (checked above), from the file or --data.
		ev.Data, ev.DataContentType = &runtime.RawExtension{Raw: data}, cloudevents.JSON
	}
	return ev, data, nil
}

func (o *sendOptions) run(ctx context.Context, out io.Writer, namespace string, clk clock.PassiveClock) error {
	ev, data, err := o.event(clk)
	if err != nil {
		return err
	}
	endpoint, err := url.JoinPath(o.url, "v1", "namespaces", url.PathEscape(namespace), "events")
	if err != nil {
		return fmt.Errorf("--url %q: %w", o.url, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	cloudevents.SetBinary(h, ev)
	if o.token != "" {
		h.Set("Authorization", "Bearer "+o.token)
	}
	if o.hmacKey != "" {
		// Signed last: the signature covers Content-Type, every ce-* header and the body.
		cloudevents.Sign([]byte(o.hmacKey), clk.Now(), h, data)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post the event to %s: %w", endpoint, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read the receiver's answer: %w", err)
	}
	fmt.Fprintf(out, "%s %s id=%s -> %s\n", ev.Type, endpoint, ev.ID, resp.Status)
	if answer := prettyJSON(body); answer != "" {
		// Line by line: the answer may echo event data.
		for _, line := range strings.Split(answer, "\n") {
			fmt.Fprintln(out, printable(line))
		}
	}
	if resp.StatusCode/100 != 2 {
		return &exitError{code: 1, err: fmt.Errorf("the receiver refused the event: %s", resp.Status)}
	}
	return nil
}

// prettyJSON indents a JSON answer; other text is returned trimmed.
func prettyJSON(body []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, bytes.TrimSpace(body), "", "  ") == nil {
		return buf.String()
	}
	return strings.TrimSpace(string(body))
}
