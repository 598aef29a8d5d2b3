package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// applySamples creates the Secrets the samples reference (pointing at the
// local CRM) and the sample Workflows, with their SMTP connection aimed at
// the local mailbox.
func applySamples(ctx context.Context, c client.Client, root, namespace string, crm *localCRM) error {
	if namespace != "default" {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", namespace, err)
		}
	}
	secrets := []*corev1.Secret{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-notify", Namespace: namespace},
			StringData: map[string]string{
				"vip-support-url": crm.NotifyURL("vip-support"),
				"support-url":     crm.NotifyURL("support"),
				"sales-url":       crm.NotifyURL("sales"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-hooks", Namespace: namespace},
			StringData: map[string]string{
				"webhook-url":      crm.URL("/webhook/default"),
				"external-crm-url": crm.URL("/webhook/external-crm"),
				"zapier-url":       crm.URL("/zapier/default"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-smtp", Namespace: namespace},
			StringData: map[string]string{"username": "dev", "password": "dev"},
		},
	}
	for _, s := range secrets {
		if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create secret %s: %w", s.Name, err)
		}
	}

	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "crmflow_v1alpha1_*.yaml"))
	if err != nil {
		return err
	}
	host, port := crm.SMTPHostPort()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var wf v1alpha1.Workflow
		if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
			return fmt.Errorf("read sample %s: %w", f, err)
		}
		wf.Namespace = namespace
		if conn := wf.Spec.Connections; conn != nil && conn.SMTP != nil {
			conn.SMTP.Host, conn.SMTP.Port, conn.SMTP.TLS = host, int32(port), v1alpha1.SMTPNone
			conn.SMTP.CredentialsSecretRef = nil
		}
		err = c.Create(ctx, &wf)
		switch {
		case apierrors.IsAlreadyExists(err):
			say("workflow %s/%s is already there (kept from the last run)", namespace, wf.Name)
		case err != nil:
			return fmt.Errorf("apply sample %s: %w", filepath.Base(f), err)
		default:
			say("applied workflow %s/%s", namespace, wf.Name)
		}
	}
	return nil
}
