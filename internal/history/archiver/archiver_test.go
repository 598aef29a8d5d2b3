//go:build !unit

package archiver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

func sqliteStore() history.Store {
	s, err := sqlstore.Open(context.Background(), filepath.Join(GinkgoT().TempDir(), "history.db"), sqlstore.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Close)
	return s
}

func counter(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total
}

var _ = Describe("the archiver", func() {
	It("stores finished runs once, lets them leave etcd only then, and removes dry runs unarchived", func(ctx SpecContext) {
		store := sqliteStore()
		reg := startArchiver(store, -1)
		done := finishedRun(ctx, "a-done", v1alpha1.RunSucceeded, false)
		failed := finishedRun(ctx, "a-failed", v1alpha1.RunFailed, false)
		dry := finishedRun(ctx, "a-dry", v1alpha1.RunSucceeded, true)
		live := finishedRun(ctx, "a-live", "", false)

		By("archiving them, then removing their minute from etcd")
		Eventually(gone(ctx, done)).Should(BeTrue())
		Eventually(gone(ctx, failed)).Should(BeTrue())
		Eventually(gone(ctx, dry)).Should(BeTrue())
		Expect(gone(ctx, live)()).To(BeFalse(), "an unfinished run is not touched")

		Expect(storedUIDs(ctx, store)).To(ConsistOf(string(done.UID), string(failed.UID)))
		got, err := store.GetRun(ctx, "sales", "a-done")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Subject).To(Equal("c-42"))
		Expect(got.Conditions).To(HaveLen(1))
		Expect(got.Steps[0].Name).To(Equal("settle"))
		Expect(store.HasEvent(ctx, "sales", "vip-routing", "crm", "ev-a-done")).To(BeTrue())
		Expect(store.HasEvent(ctx, "sales", "vip-routing", "crm", "ev-a-dry")).To(BeFalse())
		Expect(counter(reg, "crmflow_history_archived_runs_total")).To(BeNumerically(">=", 2), "these two, and any finished run another spec left in the namespace")
		Expect(k8s.Delete(ctx, live)).To(Succeed())
	})

	It("lets runs wait in etcd while the store is down, then drains them, none lost, none twice", func(ctx SpecContext) {
		if pg == nil {
			Skip("PostgreSQL binaries not installed locally")
		}
		dsn, err := pg.NewDatabase(ctx)
		Expect(err).NotTo(HaveOccurred())
		store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(store.Close)
		DeferCleanup(func() { Expect(pg.Resume(context.Background())).To(Succeed()) })

		By("stopping PostgreSQL, then finishing runs")
		Expect(pg.Stop()).To(Succeed())
		reg := startArchiver(store, -1)
		var runs []*v1alpha1.WorkflowRun
		for i := range 30 {
			runs = append(runs, finishedRun(ctx, fmt.Sprintf("b-%02d", i), v1alpha1.RunSucceeded, false))
		}
		Eventually(func() float64 { return counter(reg, "crmflow_history_store_errors_total") }).Should(BeNumerically(">", 0))
		Eventually(func() float64 { return counter(reg, "crmflow_history_archive_waiting_runs") }).Should(BeNumerically(">", 0))
		Consistently(func() bool {
			for _, r := range runs {
				if gone(ctx, r)() {
					return true
				}
			}
			return false
		}, "2s").Should(BeFalse(), "no run leaves etcd while the store is down")

		By("starting PostgreSQL again")
		Expect(pg.Resume(ctx)).To(Succeed())
		for _, r := range runs {
			Eventually(gone(ctx, r), "60s").Should(BeTrue())
		}
		var want []any
		for _, r := range runs {
			want = append(want, string(r.UID))
		}
		Expect(storedUIDs(ctx, store)).To(ConsistOf(want...))
		stats, err := store.Analytics(ctx, "sales", "vip-routing", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		Expect(err).NotTo(HaveOccurred())
		Expect(stats.Total.Enrolled).To(BeEquivalentTo(len(runs)), "rollups count each run once")
		Eventually(func() float64 { return counter(reg, "crmflow_history_archive_waiting_runs") }).Should(BeZero())
	})

	It("stores a run exactly once when the manager is SIGKILLed between the store write and the delete", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		dbPath := filepath.Join(dir, "history.db")
		kubeconfig := filepath.Join(dir, "kubeconfig")
		writeKubeconfig(kubeconfig, cfg)
		var runs []*v1alpha1.WorkflowRun
		for i := range 5 {
			runs = append(runs, finishedRun(ctx, fmt.Sprintf("c-%d", i), v1alpha1.RunSucceeded, false))
		}

		By("running a manager that is killed right after its first commit")
		child := exec.CommandContext(ctx, os.Args[0])
		child.Env = append(os.Environ(), childEnv+"="+dbPath, childKubeconfig+"="+kubeconfig)
		out, err := child.CombinedOutput()
		Expect(err).To(HaveOccurred(), "the child ends only by its SIGKILL: %s", out)
		Expect(child.ProcessState.String()).To(ContainSubstring("killed"), string(out))

		store, err := sqlstore.Open(ctx, dbPath, sqlstore.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(store.Close)
		before := storedUIDs(ctx, store)
		Expect(before).NotTo(BeEmpty(), "the killed manager committed a batch")
		for _, r := range runs {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(r), &v1alpha1.WorkflowRun{})).To(Succeed(), "nothing was deleted before the kill")
		}

		By("restarting the archiver")
		startArchiver(store, -1)
		var want []any
		for _, r := range runs {
			Eventually(gone(ctx, r)).Should(BeTrue())
			want = append(want, string(r.UID))
		}
		Expect(storedUIDs(ctx, store)).To(ConsistOf(want...))
		stats, err := store.Analytics(ctx, "sales", "vip-routing", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		Expect(err).NotTo(HaveOccurred())
		Expect(stats.Total.Enrolled).To(BeEquivalentTo(len(runs)))
	})
})
