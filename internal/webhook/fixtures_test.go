package webhook

import (
	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// The suites build their workflows with test/fixture; withSMTP is the one
// option of their own.

// withSMTP adds an SMTP connection with a credentials Secret.
func withSMTP(secret string) fixture.WorkflowOption {
	return fixture.SetSMTP(v1alpha1.SMTPConnection{Host: "smtp.example.com", From: "a@example.com",
		CredentialsSecretRef: &v1alpha1.SecretReference{Name: secret}})
}
