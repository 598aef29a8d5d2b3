package intake

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithObjects(created).WithStatusSubresource(created).Build()
	laggingCache := interceptor.NewClient(apiServer, interceptor.Funcs{
		// The informer has not seen the create yet.
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return nil
		},
		Get: func(_ context.Context, _ client.WithWatch, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
			return apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("workflowruns").GroupResource(), key.Name)
		},
	})
	live := &countingReader{Reader: apiServer}
	clock := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	r := &Receiver{opts: Options{Clock: clock}, client: laggingCache, live: live}
	won := &v1alpha1.CloudEvent{Source: "crm", ID: "won-1", Type: "lead.status.changed"}

	got, err := r.deliver(context.Background(), "crm", won, []string{"c-42"}, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("a run this receiver did not create is another replica's to remember; got %v, %v", got, err)
	}

	r.listening.add(recentKey("crm", "c-42"), created.Name, runner.ListenedTypes(spec), clock.Now())
	// An event no step or goal of the workflow listens to reads nothing live.
	other := &v1alpha1.CloudEvent{Source: "crm", ID: "upd-1", Type: "contact.updated"}
	if got, err := r.deliver(context.Background(), "crm", other, []string{"c-42"}, nil); err != nil || len(got) != 0 || live.gets != 0 {
		t.Fatalf("an event the run never listens to: delivered %v, %v, %d live reads", got, err, live.gets)
	}
	got, err = r.deliver(context.Background(), "crm", won, []string{"c-42"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != created.Name {
		t.Fatalf("delivered to %v, want [%s]: the exit-goal event is lost while the cache lags", got, created.Name)
	}
	stored := &v1alpha1.WorkflowRun{}
	if err := apiServer.Get(context.Background(), client.ObjectKeyFromObject(created), stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Spec.Inbox) != 1 || stored.Spec.Inbox[0].ID != "won-1" {
		t.Fatalf("inbox = %+v, want the won-1 event", stored.Spec.Inbox)
	}

	// The event that created the run is not delivered to it.
	got, err = r.deliver(context.Background(), "crm", created.Spec.Event, []string{"c-42"}, []string{created.Name})
	if err != nil || len(got) != 0 {
		t.Fatalf("the enrolling event was delivered to its own run: %v, %v", got, err)
	}
	// Once a live read shows the run finished, it leaves the memory: later
	// events for the subject read nothing live.
	stored.Status.Phase = v1alpha1.RunSucceeded
	if err := apiServer.Status().Update(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		before := live.gets
		won2 := &v1alpha1.CloudEvent{Source: "crm", ID: fmt.Sprintf("won-%d", i+2), Type: "lead.status.changed"}
		if got, err := r.deliver(context.Background(), "crm", won2, []string{"c-42"}, nil); err != nil || len(got) != 0 {
			t.Fatalf("delivered to a finished run: %v, %v", got, err)
		}
		if want := 1 - i; live.gets-before != want {
			t.Fatalf("event %d after the run finished: %d live reads, want %d", i+1, live.gets-before, want)
		}
	}
	// Another namespace's run of the same subject is not this namespace's.
	got, err = r.deliver(context.Background(), "other", won, []string{"c-42"}, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("delivered across namespaces: %v, %v", got, err)
	}
}

// countingReader counts the live reads delivery makes.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}
