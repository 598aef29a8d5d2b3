package enrollment

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Names of existing runs must not change: deduplication (event runs) and
// "one run per tick" (schedule runs) rest on a repeat computing the same
// name. These are the names crmflow gave before this package existed.
func TestRunNamesAreStable(t *testing.T) {
	tick := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	long := strings.Repeat("a", 250)
	for name, tc := range map[string]struct{ got, want string }{
		"event":                   {EventRunName("lead-follow-up", "crm.example.com", "lead-1"), "lead-follow-up-5d91b0e5b193554f"},
		"event, long workflow":    {EventRunName(long, "crm", "1"), strings.Repeat("a", 200) + "-d4ca4fec46fb151b"},
		"tick":                    {TickRunName("weekly-digest", tick), "weekly-digest-1796029200"},
		"tick, another zone":      {TickRunName("weekly-digest", tick.In(time.FixedZone("EST", -5*3600))), "weekly-digest-1796029200"},
		"tick, long workflow":     {TickRunName(long, tick), strings.Repeat("a", 233) + "-3f3e35e0-1796029200"},
		"event, 61-char workflow": {EventRunName("weekly-pipeline-review-for-the-enterprise-sales-team-eu-west1", "crm", "e-1"), "weekly-pipeline-review-for-the-enterprise-sales-team-eu-west1-890dcc32c1e7f478"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(tc.got).To(Equal(tc.want))
			g.Expect(validation.IsDNS1123Subdomain(tc.got)).To(BeEmpty())
		})
	}
	g := NewWithT(t)
	g.Expect(EventRunName("wf", "a", "b")).NotTo(Equal(EventRunName("wf", "ab", "")), "parts are separated, not concatenated")
	g.Expect(EventRunName("wf", "crm", "1")).NotTo(Equal(EventRunName("wf2", "crm", "1")))
}

func workflow(name string, opts ...func(*v1alpha1.Workflow)) *v1alpha1.Workflow {
	wf := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "sales", UID: types.UID("uid-" + name), Generation: 3}}
	for _, o := range opts {
		o(wf)
	}
	return wf
}

func scheduled(subject string) func(*v1alpha1.Workflow) {
	return func(wf *v1alpha1.Workflow) {
		wf.Spec.Trigger.Schedule = &v1alpha1.ScheduleTrigger{Cron: "0 9 * * Mon", TimeZone: "UTC", Subject: subject}
	}
}

// TestEveryRunCarriesTheLabelsSelectorsUse builds a run of every trigger
// kind, for a short and a 60-character workflow name, and checks the one
// shape: what `kubectl crmflow runs`, the console and the indexes select on.
func TestEveryRunCarriesTheLabelsSelectorsUse(t *testing.T) {
	name60 := "weekly-pipeline-review-for-the-enterprise-sales-team-eu-west"
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tick := time.Date(2026, 11, 30, 14, 0, 0, 0, time.FixedZone("CET", 3600))
	ev := &v1alpha1.CloudEvent{ID: "e-1", Source: "crm.example.com", Type: "lead.created", Subject: "c-42"}
	cause := v1alpha1.CausalChain{Hops: 1, Links: []string{"sales/other/c-42"}}

	type want struct {
		name, trigger, subject, eventType string
		scheduled                         *time.Time
		cause                             *v1alpha1.CausalChain
	}
	for _, wfName := range []string{"lead-follow-up", name60} {
		cases := map[string]struct {
			run  *v1alpha1.WorkflowRun
			want want
		}{
			"event": {ForEvent(workflow(wfName), "rev-1", Event{Subject: "c-42", Event: ev}),
				want{EventRunName(wfName, ev.Source, ev.ID), v1alpha1.TriggerEvent, "c-42", "lead.created", nil, nil}},
			"delayed event with a cause": {ForEvent(workflow(wfName), "rev-1", Event{Subject: "c-42", Event: ev, StartAt: at, Cause: cause}),
				want{EventRunName(wfName, ev.Source, ev.ID), v1alpha1.TriggerEvent, "c-42", "lead.created", &at, &cause}},
			"date": {ForDate(workflow(wfName), "rev-1", Event{Subject: "c-42", Event: ev, StartAt: at}),
				want{EventRunName(wfName, ev.Source, ev.ID), v1alpha1.TriggerDateField, "c-42", "lead.created", &at, nil}},
			"tick": {ForTick(workflow(wfName, scheduled("sales-team")), "rev-1", tick),
				want{TickRunName(wfName, tick), v1alpha1.TriggerSchedule, "sales-team", TickEventType, &tick, nil}},
			"tick without a subject": {ForTick(workflow(wfName, scheduled("")), "rev-1", tick),
				want{TickRunName(wfName, tick), v1alpha1.TriggerSchedule, wfName, TickEventType, &tick, nil}},
		}
		for kind, tc := range cases {
			t.Run(wfName+"/"+kind, func(t *testing.T) {
				g := NewWithT(t)
				run, w := tc.run, tc.want
				g.Expect(run.Name).To(Equal(w.name))
				g.Expect(run.Namespace).To(Equal("sales"))
				g.Expect(run.Labels).To(Equal(map[string]string{
					v1alpha1.LabelWorkflow:    wfName, // both names are valid label values: the name itself
					v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(w.subject),
					v1alpha1.LabelTrigger:     w.trigger,
				}))
				g.Expect(run.OwnerReferences).To(Equal([]metav1.OwnerReference{{APIVersion: "crmflow.io/v1alpha1", Kind: "Workflow",
					Name: wfName, UID: types.UID("uid-" + wfName), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}))
				g.Expect(run.Spec.WorkflowName).To(Equal(wfName))
				g.Expect(run.Spec.WorkflowRevision).To(Equal("rev-1"))
				g.Expect(run.Spec.WorkflowGeneration).To(Equal(int64(3)))
				g.Expect(run.Spec.Subject).To(Equal(w.subject))
				g.Expect(run.Spec.Event.Type).To(Equal(w.eventType))
				g.Expect(run.Spec.Cause).To(Equal(w.cause))
				if w.scheduled == nil {
					g.Expect(run.Spec.ScheduledTime).To(BeNil())
				} else {
					g.Expect(run.Spec.ScheduledTime).NotTo(BeNil())
					g.Expect(run.Spec.ScheduledTime.Time).To(BeTemporally("==", *w.scheduled))
				}
				g.Expect(run.Spec.DryRun).To(BeFalse())
			})
		}
	}
}

func TestEventRunsKeepACopyOfTheEvent(t *testing.T) {
	g := NewWithT(t)
	ev := &v1alpha1.CloudEvent{ID: "e-1", Source: "crm", Type: "lead.created"}
	cause := v1alpha1.CausalChain{Hops: 2, Links: []string{"a"}}
	run := ForEvent(workflow("wf"), "rev", Event{Subject: "s", Event: ev, Cause: cause})
	ev.ID = "changed"
	cause.Links[0] = "changed"
	g.Expect(run.Spec.Event.ID).To(Equal("e-1"))
	g.Expect(run.Spec.Cause.Links).To(Equal([]string{"a"}))
}

func TestTickRunsCarryTheTickAsTheirEvent(t *testing.T) {
	g := NewWithT(t)
	tick := time.Date(2026, 11, 30, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	run := ForTick(workflow("weekly-digest", scheduled("sales-team")), "rev", tick)
	g.Expect(run.Spec.Event.ID).To(Equal("2026-11-30T09:00:00Z"))
	g.Expect(run.Spec.Event.Source).To(Equal("crmflow.io/sales/weekly-digest"))
	g.Expect(run.Spec.Event.Subject).To(Equal("sales-team"))
	g.Expect(run.Spec.Event.Time.Time).To(BeTemporally("==", tick))
	g.Expect(run.Spec.ScheduledTime.Location()).To(Equal(time.UTC))
}

// A workflow name too long for a label value is hashed in the label the
// same way readers hash it (v1alpha1.WorkflowLabelValue).
func TestLongWorkflowNamesAreHashedInTheLabel(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("w", 100)
	run := ForEvent(workflow(long), "rev", Event{Subject: "s", Event: &v1alpha1.CloudEvent{ID: "1", Source: "crm"}})
	g.Expect(run.Labels[v1alpha1.LabelWorkflow]).To(Equal(v1alpha1.WorkflowLabelValue(long)))
	g.Expect(validation.IsValidLabelValue(run.Labels[v1alpha1.LabelWorkflow])).To(BeEmpty())
	g.Expect(run.Spec.WorkflowName).To(Equal(long))
}
