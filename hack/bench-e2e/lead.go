package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/mailsink"
)

// The lead mode runs the lead follow-up sample (3 waits, 2 emails, 1 CRM
// command) with its waits cut to seconds, so a run's whole life fits in a
// benchmark: settle 2s, await-reply 5s, await-second-reply 3s.
const (
	leadWorkflow      = "lead-follow-up"
	leadSettle        = "2s"
	leadAwaitReply    = "5s"
	leadAwaitSecond   = "3s"
	leadSenders       = 8
	leadReplyDelay    = time.Second // after the welcome email, so the run is waiting for the reply
	leadEmailDomain   = "@example.com"
	leadWelcomePrefix = "Welcome"
)

// mailbox counts the emails the manager sends, per recipient.
type mailbox struct {
	srv  *mailsink.Server
	host string
	port int32

	mu      sync.Mutex
	byRcpt  map[string][]string // recipient → subjects
	welcome func(rcpt string)   // called on each welcome email (may be nil)
}

func startMailbox() (*mailbox, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the mailbox: %w", err)
	}
	m := &mailbox{byRcpt: map[string][]string{}, host: "127.0.0.1", port: int32(l.Addr().(*net.TCPAddr).Port)}
	m.srv = mailsink.Serve(l, m.deliver)
	return m, nil
}

func (m *mailbox) deliver(msg mailsink.Message) {
	m.mu.Lock()
	for _, to := range msg.To {
		m.byRcpt[to] = append(m.byRcpt[to], msg.Subject)
	}
	welcome := m.welcome
	m.mu.Unlock()
	if welcome != nil && strings.HasPrefix(msg.Subject, leadWelcomePrefix) {
		for _, to := range msg.To {
			welcome(to)
		}
	}
}

func (m *mailbox) onWelcome(f func(rcpt string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.welcome = f
}

func (m *mailbox) count(rcpt string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byRcpt[rcpt])
}

// leadWorkflowSpec reads the lead follow-up sample and points it at the
// mailbox, with the waits cut to seconds.
func (b *bench) leadWorkflowSpec() (*v1alpha1.Workflow, error) {
	files, err := filepath.Glob(filepath.Join(b.o.root, "config", "samples", "*lead-follow-up*.yaml"))
	if err != nil || len(files) != 1 {
		return nil, fmt.Errorf("want one config/samples/*lead-follow-up*.yaml, found %d", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	var wf v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
		return nil, fmt.Errorf("read %s: %w", files[0], err)
	}
	wf.Namespace = benchNS
	wf.Spec.State = v1alpha1.WorkflowActive
	wf.Spec.Connections.SMTP = &v1alpha1.SMTPConnection{Host: b.mail.host, Port: b.mail.port, TLS: v1alpha1.SMTPNone, From: "Sales <sales@example.com>"}
	waits := 0
	for i := range wf.Spec.Steps {
		s := &wf.Spec.Steps[i]
		switch {
		case s.Wait != nil && s.Wait.Duration != nil:
			d := v1alpha1.Duration(leadSettle)
			s.Wait.Duration = &d
			waits++
		case s.WaitForEvent != nil && waits == 1:
			s.WaitForEvent.Timeout = leadAwaitReply
			waits++
		case s.WaitForEvent != nil:
			s.WaitForEvent.Timeout = leadAwaitSecond
			waits++
		}
	}
	if waits != 3 {
		return nil, fmt.Errorf("%s: want 3 waits (settle, await-reply, await-second-reply), found %d", files[0], waits)
	}
	return &wf, nil
}

// leadEvent is a lead.created event from the website for contact.
func leadEvent(id, contact string) benchEvent {
	return benchEvent{id: id, typ: "lead.created", subject: contact, data: fmt.Sprintf(
		`{"lead":{"id":%q,"source":"Website","contactId":%q},"contact":{"id":%q,"firstName":"Bench","email":"%s%s"}}`,
		id, contact, contact, contact, leadEmailDomain)}
}

// replyEvent is the contact's reply.
func replyEvent(id, contact string) benchEvent {
	return benchEvent{id: id, typ: "message.received", subject: contact, data: fmt.Sprintf(
		`{"message":{"id":%q,"contactId":%q,"text":"Yes, call me"}}`, id, contact)}
}

// leadPath is one way through the workflow.
type leadPath struct {
	name   string
	reply  bool
	emails int // emails each contact receives
}

var leadPaths = []leadPath{{"no reply", false, 2}, {"reply", true, 1}}

// leadPhase measures, per path and repetition, the API writes of -lead-runs
// lead follow-up runs from the first post until every run finished and the
// writes stopped, divided by the runs.
func (b *bench) leadPhase(ctx context.Context) error {
	fmt.Printf("\n== lead follow-up (waits %s, %s, %s; 2 emails and 1 CRM command without a reply), %d runs × %d reps per path, %d senders, etcd with fsync\n",
		leadSettle, leadAwaitReply, leadAwaitSecond, b.o.leadRuns, b.o.reps, leadSenders)
	for _, path := range leadPaths {
		var perRun []requestCounts
		for r := 1; r <= b.o.reps; r++ {
			w, err := b.leadRep(ctx, path, r)
			if err != nil {
				return err
			}
			perRun = append(perRun, w)
		}
		var totals, runWrites []float64
		for _, w := range perRun {
			totals = append(totals, w.total())
			runWrites = append(runWrites, w.onRuns())
		}
		fmt.Printf("MEDIAN lead follow-up, %s (%d reps): %.2f API writes per run, %.2f of them on the run itself (acceptance ≤ 6)\n",
			path.name, len(perRun), median(totals), median(runWrites))
	}
	return nil
}

// leadRep enrolls b.o.leadRuns new contacts, replies for path.reply once each
// welcome email arrived, and waits until every run finished.
func (b *bench) leadRep(ctx context.Context, path leadPath, rep int) (requestCounts, error) {
	n := b.o.leadRuns
	tag := strings.ReplaceAll(path.name, " ", "")
	contacts := make([]string, n)
	mine := map[string]bool{}
	for i := range contacts {
		contacts[i] = fmt.Sprintf("c-lead-%s-%d-%05d", tag, rep, i)
		mine[contacts[i]] = true
	}
	repCtx, cancel := context.WithTimeout(ctx, b.o.repTimeout)
	defer cancel()
	var replies sync.WaitGroup
	var replyErrors atomic.Int64
	if path.reply {
		b.mail.onWelcome(func(rcpt string) {
			contact := strings.TrimSuffix(rcpt, leadEmailDomain)
			if !mine[contact] {
				return
			}
			replies.Add(1)
			go func() {
				defer replies.Done()
				_ = sleep(repCtx, leadReplyDelay)
				if _, err := b.send(repCtx, replyEvent("reply-"+contact, contact)); err != nil {
					replyErrors.Add(1)
					fmt.Printf("    reply of %s failed: %v\n", contact, err)
				}
			}()
		})
		defer b.mail.onWelcome(nil)
	}

	writes0, err := b.cp.apiWrites(ctx)
	if err != nil {
		return nil, err
	}
	commands0, _ := b.sink.distinct()
	var notEnrolled atomic.Int64
	if _, err := b.parallel(repCtx, n, leadSenders, func(ctx context.Context, i int) error {
		res, err := b.send(ctx, leadEvent("lead-"+contacts[i], contacts[i]))
		if err != nil || len(res.enrolled) != 1 {
			notEnrolled.Add(1)
			fmt.Printf("    lead of %s did not enroll: %v %s\n", contacts[i], err, res.skipped)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := b.waitLeadRuns(repCtx, mine); err != nil {
		return nil, err
	}
	replies.Wait()
	if _, err := b.waitWritesQuiet(ctx, 2*time.Second, time.Minute); err != nil {
		return nil, err
	}
	writes1, err := b.cp.apiWrites(ctx)
	if err != nil {
		return nil, err
	}
	perRun := requestCounts{}
	for k, v := range writes1.minus(writes0) {
		perRun[k] = v / float64(n)
	}
	commands, _ := b.sink.distinct()
	commands -= commands0
	wantCommands := 0
	if !path.reply {
		wantCommands = n // hand-to-sales
	}
	wrongMail := 0
	for _, c := range contacts {
		if b.mail.count(c+leadEmailDomain) != path.emails {
			wrongMail++
		}
	}
	keys := perRun.keys()
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if perRun[k] >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, perRun[k]))
		}
	}
	fmt.Printf("  %s rep %d: %.2f API writes per run [%s]; not enrolled %d, contacts without exactly %d email(s) %d, CRM commands %d (want %d), failed replies %d\n",
		path.name, rep, perRun.total(), strings.Join(parts, ", "), notEnrolled.Load(), path.emails, wrongMail, commands, wantCommands, replyErrors.Load())
	return perRun, nil
}

// onRuns is the writes to WorkflowRuns themselves: creates, status writes and
// inbox patches, not the per-minute deletecollection of finished runs.
func (c requestCounts) onRuns() float64 {
	sum := 0.0
	for k, v := range c {
		verb, res, _ := strings.Cut(k, " ")
		if verb != "DELETECOLLECTION" && strings.HasPrefix(res, "workflowruns") {
			sum += v
		}
	}
	return sum
}

// waitLeadRuns waits until every run of the contacts in mine finished.
func (b *bench) waitLeadRuns(ctx context.Context, mine map[string]bool) error {
	for {
		var list v1alpha1.WorkflowRunList
		if err := b.c.List(ctx, &list, client.InNamespace(benchNS), client.MatchingLabels{v1alpha1.LabelWorkflow: v1alpha1.WorkflowLabelValue(leadWorkflow)}); err != nil {
			return err
		}
		finished, open := 0, 0
		for i := range list.Items {
			if !mine[list.Items[i].Spec.Subject] {
				continue
			}
			if list.Items[i].Status.Phase.IsFinished() {
				finished++
			} else {
				open++
			}
		}
		if finished == len(mine) {
			return nil
		}
		if !b.mgr.proc.running() {
			return fmt.Errorf("the manager exited:\n%s", b.mgr.proc.tail(30))
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("lead runs: %d of %d finished, %d open when the repetition's time ran out: %w", finished, len(mine), open, err)
		}
	}
}
