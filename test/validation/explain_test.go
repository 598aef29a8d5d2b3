//go:build !unit

package validation

import (
	"io"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kubectl explain reads the CRD's published OpenAPI, so this proves the Go doc
// comments reach users.
var _ = Describe("kubectl explain", func() {
	explain := func(resource string) func() (string, error) {
		user, err := env.ControlPlane.AddUser(envtest.User{Name: "explain", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubectl, err := user.Kubectl()
		Expect(err).NotTo(HaveOccurred())
		return func() (string, error) {
			out, _, err := kubectl.Run("explain", resource, "--api-version=crmflow.io/v1alpha1")
			if err != nil {
				return "", err
			}
			b, err := io.ReadAll(out)
			return string(b), err
		}
	}

	It("prints our field docs for workflow.spec.steps", func() {
		Eventually(explain("workflows.spec.steps")).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(And(
			ContainSubstring("steps run in order"),
			ContainSubstring("sendEmail"),
			ContainSubstring("waitForEvent"),
		))
	})

	It("says when a waitForEvent starts listening, and how to catch earlier events", func() {
		Eventually(explain("workflows.spec.steps.waitForEvent")).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(And(
			ContainSubstring("The wait listens from the moment the step starts"),
			ContainSubstring("exitWhen goal"),
		))
	})

	It("prints our field docs for workflowrun.status.steps", func() {
		Eventually(explain("workflowruns.status.steps")).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(And(
			ContainSubstring("execution log"),
			ContainSubstring("idempotencyKey"),
		))
	})
})
