package intake

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// A cache that lags behind the API server is what this unit fakes: its List
// shows no run at all, as the informer does for a moment after a create.
// Whether the receiver remembers the run it created across that moment is
// the receiver's own logic, not the API server's.
func TestDeliverFindsARunTheCacheDoesNotShowYet(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	spec := &v1alpha1.WorkflowSpec{
		ExitWhen: []v1alpha1.ExitGoal{{Name: "won", Types: []v1alpha1.EventType{"lead.status.changed"}}},
		Steps:    []v1alpha1.Step{{Name: "wait", Wait: &v1alpha1.WaitAction{}}},
	}
	created := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "crm", Name: "follow-up-1"},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName: "follow-up",
			Subject:      "c-42",
			Workflow:     spec,
			Event:        &v1alpha1.CloudEvent{Source: "crm", ID: "lead-1", Type: "lead.created"},
		},
	}
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithObjects(created).Build()
	laggingCache := interceptor.NewClient(apiServer, interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return nil // the informer has not seen the create yet
		},
	})
	clock := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	r := &Receiver{opts: Options{Clock: clock}, client: laggingCache, live: apiServer}
	won := &v1alpha1.CloudEvent{Source: "crm", ID: "won-1", Type: "lead.status.changed"}

	got, err := r.deliver(context.Background(), "crm", won, []string{"c-42"}, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("a run this receiver did not create is another replica's to remember; got %v, %v", got, err)
	}

	r.listening.add(recentKey("crm", "c-42"), runner.Candidate{Name: created.Name}, clock.Now())
	got, err = r.deliver(context.Background(), "crm", won, []string{"c-42"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != created.Name {
		t.Fatalf("delivered to %v, want [%s]: the exit-goal event is lost while the cache lags", got, created.Name)
	}
	live := &v1alpha1.WorkflowRun{}
	if err := apiServer.Get(context.Background(), client.ObjectKeyFromObject(created), live); err != nil {
		t.Fatal(err)
	}
	if len(live.Spec.Inbox) != 1 || live.Spec.Inbox[0].ID != "won-1" {
		t.Fatalf("inbox = %+v, want the won-1 event", live.Spec.Inbox)
	}

	// The event that created the run is not delivered to it.
	got, err = r.deliver(context.Background(), "crm", created.Spec.Event, []string{"c-42"}, []string{created.Name})
	if err != nil || len(got) != 0 {
		t.Fatalf("the enrolling event was delivered to its own run: %v, %v", got, err)
	}
	// Another namespace's run of the same subject is not this namespace's.
	got, err = r.deliver(context.Background(), "other", won, []string{"c-42"}, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("delivered across namespaces: %v, %v", got, err)
	}
}
