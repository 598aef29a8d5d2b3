package actions

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// commandSender delivers contact and CRM commands to the CRM sink as
// CloudEvents in binary HTTP mode.
type commandSender struct {
	t     *transport
	clock clock.PassiveClock
}

func (c *commandSender) send(ctx context.Context, kind Kind, o Origin, cmd *Command) (Result, error) {
	tg := target{kind: kind, method: http.MethodPost, display: RedactURL(cmd.SinkURL)}
	ev, err := CommandEvent(o, kind, cmd, c.clock.Now())
	if err != nil {
		return Result{}, permanent(err)
	}
	if err := checkURL(string(kind)+" sinkURL", cmd.SinkURL); err != nil {
		return Result{}, permanent(err)
	}

	req, err := c.t.newRequest(ctx, tg, cmd.SinkURL, o.IdempotencyKey, nil)
	if err != nil {
		return Result{}, err
	}
	if err := cloudevents.WriteBinary(ctx, ev, req); err != nil {
		return Result{}, permanent(fmt.Errorf("%s: %w", tg, err))
	}
	if cmd.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cmd.Token)
	}

	resp, err := c.t.roundTrip(req, tg)
	if err != nil {
		return Result{}, err
	}
	out := resp.output()
	out["id"] = ev.ID()
	out["type"] = ev.Type()
	return Result{
		Message: fmt.Sprintf("sent %s for %s to %s (%d)", ev.Type(), ev.Subject(), tg.display, resp.status),
		Output:  out,
	}, nil
}

// CommandSource is the CloudEvents source of the commands a workflow sends:
// "crmflow.io/<namespace>/<workflow>".
func CommandSource(o Origin) string {
	return fmt.Sprintf("crmflow.io/%s/%s", o.Namespace, o.Workflow)
}

// ChainLink is the causal-chain link a run adds to the events it sends:
// "<namespace>/<workflow>/<subject>".
func ChainLink(o Origin) string {
	return fmt.Sprintf("%s/%s/%s", o.Namespace, o.Workflow, o.Subject)
}

// CommandEvent builds the CloudEvent of a command exactly as it is sent: id =
// the idempotency key, source = CommandSource, type = cmd.Type (default: the
// kind's command type), subject = cmd.Subject (default: the run's subject),
// JSON data, and the loop-prevention extensions crmflowhops (Origin.Hops+1),
// crmflowchain (Origin.Chain plus this run's link, comma-separated),
// crmflowrun and crmflowworkflow. A dry run can use it to show the event.
func CommandEvent(o Origin, kind Kind, cmd *Command, now time.Time) (*event.Event, error) {
	typ := cmd.Type
	if typ == "" {
		typ, _ = CommandType(kind)
	}
	if typ == "" {
		return nil, fmt.Errorf("%s command has no type", kind)
	}
	subject := cmd.Subject
	if subject == "" {
		subject = o.Subject
	}
	if subject == "" {
		return nil, fmt.Errorf("%s command %s has no subject (the entity id)", kind, typ)
	}
	if o.Namespace == "" || o.Workflow == "" {
		return nil, fmt.Errorf("%s command %s: origin namespace and workflow are required", kind, typ)
	}
	data := cmd.Data
	if data == nil {
		data = map[string]any{}
	}

	ev := event.New(cloudevents.SpecVersion)
	ev.SetID(o.IdempotencyKey)
	ev.SetSource(CommandSource(o))
	ev.SetType(typ)
	ev.SetSubject(subject)
	ev.SetTime(now)
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return nil, fmt.Errorf("%s command %s: encode data as JSON: %w", kind, typ, err)
	}
	link := o
	if link.Subject == "" {
		link.Subject = subject
	}
	chain := append(append(make([]string, 0, len(o.Chain)+1), o.Chain...), ChainLink(link))
	ev.SetExtension(v1alpha1.ExtensionHops, o.Hops+1)
	ev.SetExtension(v1alpha1.ExtensionChain, strings.Join(chain, ","))
	ev.SetExtension(v1alpha1.ExtensionWorkflow, o.Namespace+"/"+o.Workflow)
	if o.Run != "" {
		ev.SetExtension(v1alpha1.ExtensionRun, o.Namespace+"/"+o.Run)
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("%s command %s: invalid CloudEvent: %w", kind, typ, err)
	}
	return &ev, nil
}
