package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestLowestNonZeroResult(t *testing.T) {
	after := func(d time.Duration) ctrl.Result { return ctrl.Result{RequeueAfter: d} }
	cases := []struct {
		name       string
		a, b, want ctrl.Result
	}{
		{name: "nothing wanted", want: ctrl.Result{}},
		{name: "zero is no requeue, not at once", a: after(time.Minute), want: after(time.Minute)},
		{name: "either side", b: after(time.Second), want: after(time.Second)},
		{name: "the soonest wins", a: after(time.Minute), b: after(time.Second), want: after(time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(LowestNonZeroResult(tc.a, tc.b)).To(Equal(tc.want))
		})
	}
}

func TestRunPhases(t *testing.T) {
	g := NewWithT(t)
	ran := []string{}
	phase := func(name string, res ctrl.Result, err error) Phase[*[]string] {
		return func(_ context.Context, s *[]string) (ctrl.Result, error) {
			*s = append(*s, name)
			return res, err
		}
	}
	res, err := RunPhases(context.Background(), &ran,
		phase("a", ctrl.Result{RequeueAfter: time.Hour}, nil),
		phase("b", ctrl.Result{}, nil),
		phase("c", ctrl.Result{RequeueAfter: time.Minute}, nil))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ran).To(Equal([]string{"a", "b", "c"}), "in order")
	g.Expect(res).To(Equal(ctrl.Result{RequeueAfter: time.Minute}), "the soonest requeue")

	ran = nil
	boom := errors.New("boom")
	res, err = RunPhases(context.Background(), &ran,
		phase("a", ctrl.Result{RequeueAfter: time.Hour}, nil),
		phase("b", ctrl.Result{}, boom),
		phase("c", ctrl.Result{}, nil))
	g.Expect(err).To(MatchError(boom))
	g.Expect(ran).To(Equal([]string{"a", "b"}), "the first error ends the pass")
	g.Expect(res).To(Equal(ctrl.Result{}), "no requeue beside an error: the workqueue's backoff applies")
}

type capAt time.Duration

func (c capAt) RequeueAfter(d time.Duration) time.Duration { return min(d, time.Duration(c)) }

func TestRequeueAfter(t *testing.T) {
	g := NewWithT(t)
	g.Expect(RequeueAfter(nil, time.Hour)).To(Equal(time.Hour), "no policy: the wait itself")
	g.Expect(RequeueAfter(capAt(time.Second), time.Hour)).To(Equal(time.Second), "the policy decides")
}
