package controllers

import (
	"errors"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestLogConstructor(t *testing.T) {
	g := NewWithT(t)
	var lines []string
	newLog := func(verbosity int) logr.Logger {
		return funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: verbosity})
	}
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "crmflow.io", Resource: "workflows"}, "wf", errors.New("the object has been modified"))
	gvk := schema.GroupVersionKind{Group: "crmflow.io", Version: "v1alpha1", Kind: "Workflow"}
	req := &reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "sales", Name: "wf"}}

	log := LogConstructor(newLog(0), "workflow", gvk)(req)
	log.Error(errors.New("list runs: timeout"), "Reconciler error")
	g.Expect(lines).To(HaveLen(1))
	g.Expect(lines[0]).To(And(ContainSubstring(`"msg"="Reconciler error"`), ContainSubstring(`"error"="list runs: timeout"`),
		ContainSubstring(`"controller"="workflow"`), ContainSubstring(`"controllerKind"="Workflow"`), ContainSubstring(`"namespace"="sales"`)))

	log.Error(conflict, "Reconciler error")
	g.Expect(lines).To(HaveLen(1), "a conflict is no error line")

	lines = nil
	LogConstructor(newLog(1), "workflow", gvk)(req).Error(errors.Join(errors.New("patch status"), conflict), "Reconciler error")
	g.Expect(lines).To(ConsistOf(And(ContainSubstring(`"level"=1`), ContainSubstring(`"msg"="Reconciler error"`), ContainSubstring("the object has been modified"))),
		"at V(1) a wrapped conflict is an info line")

	g.Expect(QuietConflicts(logr.Discard())).To(Equal(logr.Discard()), "a logger without a sink stays as it is")
}
