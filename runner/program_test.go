package runner

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday

func TestSeedSamplesCompile(t *testing.T) {
	g := NewWithT(t)
	e := New(Options{})
	for _, name := range []string{"vip-routing", "lead-follow-up", "negative-sentiment", "renewal-reminder", "weekly-digest"} {
		wf := fixture.MustSample(t, name)
		_, err := e.Compile(&wf.Spec)
		g.Expect(err).NotTo(HaveOccurred(), name)
	}
}

func TestEvaluateSeedConditions(t *testing.T) {
	e := New(Options{})
	cases := []struct {
		sample  string
		ev      *v1alpha1.CloudEvent
		enroll  bool
		message string
	}{
		{"vip-routing", fixture.Event("conversation.started", obj{"contact": obj{"tags": []string{"VIP", "b"}}}), true, ""},
		{"vip-routing", fixture.Event("conversation.started", obj{"contact": obj{"tags": []string{"b"}}}), false, `condition "contact-is-vip": contact.tags Contains "VIP" was false (contact.tags = ["b"])`},
		{"vip-routing", fixture.Event("conversation.started", obj{"contact": obj{}}), false, `condition "contact-is-vip": missing field, so false: no such key: tags (contact.tags is missing)`},
		{"lead-follow-up", fixture.Event("lead.created", obj{"lead": obj{"source": "Website"}}), true, ""},
		{"lead-follow-up", fixture.Event("lead.created", obj{"lead": obj{"source": "Phone"}}), false, `condition "from-website": lead.source == "Website" was false (lead.source = "Phone")`},
		{"lead-follow-up", fixture.Event("lead.created", obj{}), false, `condition "from-website": missing field, so false: no such key: source (lead.source is missing)`},
		{"negative-sentiment", fixture.Event("message.received", obj{"message": obj{"sentiment": obj{"score": 0.1}}}), true, ""},
		{"negative-sentiment", fixture.Event("message.received", obj{"message": obj{"sentiment": obj{"score": 0}}}), true, ""},
		{"negative-sentiment", fixture.Event("message.received", obj{"message": obj{"sentiment": obj{"score": 0.3}}}), false, `condition "negative": message.sentiment.score < 0.3 was false (message.sentiment.score = 0.3)`},
	}
	for _, tc := range cases {
		t.Run(tc.sample+"/"+tc.message, func(t *testing.T) {
			g := NewWithT(t)
			p, err := e.Compile(&fixture.MustSample(t, tc.sample).Spec)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Triggers(tc.ev)).To(BeTrue())
			en, err := p.Evaluate(tc.ev, t0)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(en.Enroll).To(Equal(tc.enroll))
			g.Expect(en.Message).To(Equal(tc.message))
			g.Expect(en.Results).To(HaveLen(1))
		})
	}
}

func TestTriggersAndSubject(t *testing.T) {
	g := NewWithT(t)
	e := New(Options{})
	spec := &v1alpha1.WorkflowSpec{
		Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"lead.created"}, Source: "crm/a"}},
		Subject: "lead.contactId",
		Steps:   []v1alpha1.Step{{Name: "done", End: &v1alpha1.EndAction{}}},
	}
	p, err := e.Compile(spec)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p.Triggers(fixture.Event("lead.created", obj{}, fixture.SetEventSource("crm/a")))).To(BeTrue())
	g.Expect(p.Triggers(fixture.Event("lead.created", obj{}, fixture.SetEventSource("crm/b")))).To(BeFalse())
	g.Expect(p.Triggers(fixture.Event("lead.updated", obj{}, fixture.SetEventSource("crm/a")))).To(BeFalse())

	s, err := p.Subject(fixture.Event("lead.created", obj{"lead": obj{"contactId": "c-7"}}), t0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s).To(Equal("c-7"))
	_, err = p.Subject(fixture.Event("lead.created", obj{"lead": obj{}}), t0)
	g.Expect(err).To(MatchError(ContainSubstring("no such key: contactId")))
	_, err = p.Subject(fixture.Event("lead.created", obj{"lead": obj{"contactId": ""}}), t0)
	g.Expect(err).To(MatchError(ContainSubstring("is empty")))

	spec.Subject = ""
	p, err = e.Compile(spec)
	g.Expect(err).NotTo(HaveOccurred())
	s, err = p.Subject(fixture.Event("lead.created", obj{}), t0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s).To(Equal("c-42"))
	_, err = p.Subject(fixture.Event("lead.created", obj{}, fixture.SetEventSubject("")), t0)
	g.Expect(err).To(MatchError(ContainSubstring("no subject")))
}

func TestStartAt(t *testing.T) {
	e := New(Options{})
	delay := v1alpha1.Duration("1h")
	evTrig := &v1alpha1.WorkflowSpec{
		Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"lead.created"}, Delay: &delay}},
		Steps:   []v1alpha1.Step{{Name: "done", End: &v1alpha1.EndAction{}}},
	}
	dateTrig := &v1alpha1.WorkflowSpec{
		Trigger: v1alpha1.Trigger{DateField: &v1alpha1.DateFieldTrigger{
			Types: []v1alpha1.EventType{"contact.updated"}, Field: "contact.renewalDate", Offset: "-14d", TimeZone: "Europe/Berlin"}},
		Steps: []v1alpha1.Step{{Name: "done", End: &v1alpha1.EndAction{}}},
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	newYork, _ := time.LoadLocation("America/New_York")
	nyTrig := func(offset string) *v1alpha1.WorkflowSpec {
		s := dateTrig.DeepCopy()
		s.Trigger.DateField.TimeZone, s.Trigger.DateField.Offset = "America/New_York", v1alpha1.SignedDuration(offset)
		return s
	}
	renewal := func(date string) *v1alpha1.CloudEvent {
		return fixture.Event("contact.updated", obj{"contact": obj{"renewalDate": date}})
	}
	cases := []struct {
		name    string
		spec    *v1alpha1.WorkflowSpec
		ev      *v1alpha1.CloudEvent
		at      time.Time
		cleared bool
		err     string
	}{
		{"event time plus delay", evTrig, fixture.Event("lead.created", obj{}, fixture.SetEventTime(t0.Add(-time.Hour))), t0, false, ""},
		{"now plus delay without event time", evTrig, fixture.Event("lead.created", obj{}), t0.Add(time.Hour), false, ""},
		{"date minus offset", dateTrig, fixture.Event("contact.updated", obj{"contact": obj{"renewalDate": "2026-06-30"}}),
			time.Date(2026, 6, 16, 0, 0, 0, 0, berlin), false, ""},
		{"RFC 3339 date", dateTrig, fixture.Event("contact.updated", obj{"contact": obj{"renewalDate": "2026-06-30T12:00:00Z"}}),
			time.Date(2026, 6, 16, 12, 0, 0, 0, time.UTC), false, ""},
		// Issue 10 item 11: d and w are calendar days in the trigger's zone,
		// so an offset across a DST change keeps the wall-clock time
		// (24-hour days fired at 23:00 the evening before, or at 01:00).
		{"-14d across spring-forward (2025-03-09)", nyTrig("-14d"), renewal("2025-03-20"),
			time.Date(2025, 3, 6, 0, 0, 0, 0, newYork), false, ""},
		{"-2w across spring-forward", nyTrig("-2w"), renewal("2025-03-20"),
			time.Date(2025, 3, 6, 0, 0, 0, 0, newYork), false, ""},
		{"-14d across fall-back (2025-11-02)", nyTrig("-14d"), renewal("2025-11-10"),
			time.Date(2025, 10, 27, 0, 0, 0, 0, newYork), false, ""},
		{"+1d3h across fall-back: the day is calendar, the hours elapsed", nyTrig("1d3h"), renewal("2025-11-01"),
			time.Date(2025, 11, 2, 2, 0, 0, 0, newYork), false, ""},
		{"hours stay elapsed time", nyTrig("-336h"), renewal("2025-03-20"),
			time.Date(2025, 3, 5, 23, 0, 0, 0, newYork), false, ""},
		{"missing date clears", dateTrig, fixture.Event("contact.updated", obj{"contact": obj{}}), time.Time{}, true, ""},
		{"null date clears", dateTrig, fixture.Event("contact.updated", obj{"contact": obj{"renewalDate": nil}}), time.Time{}, true, ""},
		{"empty date clears", dateTrig, fixture.Event("contact.updated", obj{"contact": obj{"renewalDate": ""}}), time.Time{}, true, ""},
		{"bad date", dateTrig, fixture.Event("contact.updated", obj{"contact": obj{"renewalDate": "soon"}}), time.Time{}, false, "neither RFC 3339"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			p, err := e.Compile(tc.spec)
			g.Expect(err).NotTo(HaveOccurred())
			at, cleared, err := p.StartAt(tc.ev, t0)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cleared).To(Equal(tc.cleared))
			g.Expect(at.Equal(tc.at)).To(BeTrue(), "got %s want %s", at, tc.at)
		})
	}
}

func TestEvaluateReportsErrorsOtherThanMissingFields(t *testing.T) {
	g := NewWithT(t)
	e := New(Options{CostLimit: 100})
	spec := eventSpec(v1alpha1.Step{Name: "done", End: &v1alpha1.EndAction{}})
	spec.Conditions = []v1alpha1.Condition{
		{Name: "costly", Expression: `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, a + b > 0))`},
		{Name: "type", Expression: `lead.source < 3`},
		{Name: "ok", Expression: `true`},
	}
	p, err := e.Compile(spec)
	g.Expect(err).NotTo(HaveOccurred())
	en, err := p.Evaluate(fixture.Event("lead.created", obj{"lead": obj{"source": "Website"}}), t0)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring(`condition "costly": evaluate "[1,2,3`))
	g.Expect(err.Error()).To(ContainSubstring("cost limit exceeded"))
	g.Expect(err.Error()).To(ContainSubstring(`condition "type": evaluate "lead.source < 3": no such overload`))
	g.Expect(en.Enroll).To(BeFalse())
	g.Expect(en.Results).To(HaveLen(3))
	g.Expect(en.Results[2].Result).To(BeTrue())
	g.Expect(en.Message).To(HavePrefix(`condition "costly": evaluation failed, so false:`))
}

// TestTypeMismatchNamesTheOperands: a CRM that sends the score as a string
// makes CEL fail with a bare "no such overload"; the error names the field,
// both types and the conversion (finding 9 of the new-user walkthrough).
func TestTypeMismatchNamesTheOperands(t *testing.T) {
	g := NewWithT(t)
	p, err := New(Options{}).Compile(&fixture.MustSample(t, "negative-sentiment").Spec)
	g.Expect(err).NotTo(HaveOccurred())
	en, err := p.Evaluate(fixture.Event("message.received", obj{"message": obj{"sentiment": obj{"score": "0.1"}}}), t0)
	g.Expect(err).To(MatchError(`condition "negative": evaluate "message.sentiment.score < 0.3": no such overload: ` +
		`message.sentiment.score is a string ("0.1"), compared with a number (0.3); convert it, e.g. double(message.sentiment.score)`))
	g.Expect(en.Enroll).To(BeFalse())
	g.Expect(en.Results[0].Message).To(ContainSubstring(`is a string ("0.1"), compared with a number (0.3)`))
}
