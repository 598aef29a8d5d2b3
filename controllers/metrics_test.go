package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
)

// TestObserveWake reads wake lateness where an operator does: from the registry.
func TestObserveWake(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	g.Expect(err).NotTo(HaveOccurred())
	m.ObserveWake(2 * time.Second)
	m.ObserveWake(500 * time.Millisecond)

	families, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var count uint64
	var sum float64
	for _, f := range families {
		if f.GetName() == "crmflow_wake_lateness_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			count, sum = h.GetSampleCount(), h.GetSampleSum()
		}
	}
	g.Expect(count).To(BeEquivalentTo(2))
	g.Expect(sum).To(BeNumerically("~", 2.5, 1e-9))

	var none *Metrics
	none.ObserveWake(time.Second) // a nil Metrics records nothing, and does not panic
	_, err = NewMetrics(reg)
	g.Expect(err).To(HaveOccurred(), "the series are registered once")
}
