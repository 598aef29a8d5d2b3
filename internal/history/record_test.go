package history_test

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

func finished(data string) *v1alpha1.WorkflowRun {
	t0 := metav1.NewTime(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	return &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: "vip-1", Namespace: "sales", UID: "u-1", CreationTimestamp: t0},
		Spec: v1alpha1.WorkflowRunSpec{WorkflowName: "vip-routing", WorkflowRevision: "vip-routing-5d8f", WorkflowGeneration: 2, Subject: "c-42",
			Event: &v1alpha1.CloudEvent{ID: "e1", Source: "crm", Type: "conversation.started", Data: &runtime.RawExtension{Raw: []byte(data)}}},
		Status: v1alpha1.WorkflowRunStatus{Phase: v1alpha1.RunSucceeded, StartTime: &t0, CompletionTime: &t1, Result: v1alpha1.ReasonCompleted,
			ConditionResults: []v1alpha1.ConditionResult{{Name: "vip", Result: true}},
			Conditions:       []metav1.Condition{{Type: v1alpha1.RunEnrolledCondition, Status: metav1.ConditionTrue, Reason: "ConditionsMet", LastTransitionTime: t0}},
			Steps:            []v1alpha1.StepStatus{{Name: "notify", Phase: v1alpha1.StepSucceeded, StartTime: &t0, FinishTime: &t1}}},
	}
}

func TestRecordFromRun(t *testing.T) {
	g := NewWithT(t)
	run := finished(`{"contact":{"id":"c-42"}}`)
	r := history.RecordFromRun(run)
	g.Expect(r.UID).To(Equal("u-1"))
	g.Expect([]string{r.Namespace, r.Name, r.Workflow, r.WorkflowRevision, r.Subject, r.EventSource, r.EventID, r.EventType, r.Phase, r.Result}).To(Equal(
		[]string{"sales", "vip-1", "vip-routing", "vip-routing-5d8f", "c-42", "crm", "e1", "conversation.started", "Succeeded", "Completed"}))
	g.Expect(r.Finished).To(Equal(run.Status.CompletionTime.UTC()))
	g.Expect(r.EventTruncated).To(BeFalse())
	g.Expect(string(r.Event)).To(ContainSubstring(`"contact":{"id":"c-42"}`))

	back := r.ToWorkflowRun()
	g.Expect(back.Spec.Event).To(Equal(run.Spec.Event))
	g.Expect(back.Status.Steps).To(Equal(run.Status.Steps))
	g.Expect(back.Status.Conditions).To(Equal(run.Status.Conditions))
	g.Expect(back.CreationTimestamp).To(Equal(run.CreationTimestamp))
	g.Expect(back.UID).To(Equal(run.UID))
}

func TestRecordFromRunCapsTheEvent(t *testing.T) {
	g := NewWithT(t)
	r := history.RecordFromRun(finished(`{"blob":"` + strings.Repeat("x", history.DefaultMaxEventBytes) + `"}`))
	g.Expect(r.Event).To(BeNil())
	g.Expect(r.EventTruncated).To(BeTrue())
	g.Expect(r.EventID).To(Equal("e1"), "the attributes are kept for deduplication and the timeline")
	back := r.ToWorkflowRun()
	g.Expect(back.Spec.Event.ID).To(Equal("e1"))
}
