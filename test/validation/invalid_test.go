//go:build !unit

package validation

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// mutation changes a valid Workflow (as unstructured content) into an invalid one.
type mutation func(obj map[string]any)

// validWorkflow is the smallest Workflow the API server accepts; every invalid
// case below is it with exactly one thing wrong.
func validWorkflow(name string, mutations ...mutation) *unstructured.Unstructured {
	obj := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "Workflow",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{
			"trigger": map[string]any{"event": map[string]any{"types": []any{"contact.created"}}},
			"steps": []any{
				map[string]any{"name": "settle", "wait": map[string]any{"duration": "1h"}},
				map[string]any{"name": "tag", "addTags": map[string]any{"tags": []any{"New"}}},
			},
		},
	}
	for _, m := range mutations {
		m(obj)
	}
	return &unstructured.Unstructured{Object: obj}
}

// set replaces the value at a dotted path; "steps.0" indexes a list.
func set(path string, value any) mutation {
	return func(obj map[string]any) {
		parts := strings.Split(path, ".")
		var cur any = obj
		for i, p := range parts {
			last := i == len(parts)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					c[p] = value
					return
				}
				if _, ok := c[p]; !ok {
					c[p] = map[string]any{}
				}
				cur = c[p]
			case []any:
				var idx int
				if _, err := fmt.Sscanf(p, "%d", &idx); err != nil || idx >= len(c) {
					panic(fmt.Sprintf("bad list index %q in %s", p, path))
				}
				if last {
					c[idx] = value
					return
				}
				cur = c[idx]
			}
		}
	}
}

// remove deletes the key at a dotted path of maps.
func remove(path string) mutation {
	return func(obj map[string]any) {
		parts := strings.Split(path, ".")
		cur := obj
		for _, p := range parts[:len(parts)-1] {
			cur = cur[p].(map[string]any)
		}
		delete(cur, parts[len(parts)-1])
	}
}

// invalidCount names each invalid case uniquely; had a case been accepted, the
// next one must not collide with it.
var invalidCount int

func step(fields map[string]any) map[string]any { return fields }

var _ = Describe("an invalid Workflow", func() {
	It("is accepted when nothing is wrong (the base of every case)", func() {
		Expect(k8sClient.Create(ctx, validWorkflow("valid-base"))).To(Succeed())
	})

	DescribeTable("is refused by the API server with a message that names the field",
		func(mut mutation, field, message string) {
			invalidCount++
			name := fmt.Sprintf("invalid-%03d", invalidCount)
			err := k8sClient.Create(ctx, validWorkflow(name, mut),
				&client.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid workflow")
			Expect(apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(BeTrue(), "unexpected error kind: %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("two triggers",
			set("spec.trigger.schedule", map[string]any{"cron": "0 9 * * *"}),
			"spec.trigger", "exactly one of trigger.event, trigger.schedule or trigger.dateField"),
		Entry("an empty trigger",
			set("spec.trigger", map[string]any{}),
			"spec.trigger", "exactly one of trigger.event"),
		Entry("no trigger at all",
			remove("spec.trigger"),
			"spec.trigger", "Required value"),
		Entry("a step with two actions",
			set("spec.steps.1", step(map[string]any{"name": "tag", "addTags": map[string]any{"tags": []any{"a"}}, "removeTags": map[string]any{"tags": []any{"b"}}})),
			"spec.steps[1]", "a step sets exactly one action"),
		Entry("a step with no action",
			set("spec.steps.1", step(map[string]any{"name": "tag"})),
			"spec.steps[1]", "a step sets exactly one action"),
		Entry("duplicate step names",
			set("spec.steps.1", step(map[string]any{"name": "settle", "addTags": map[string]any{"tags": []any{"a"}}})),
			"spec.steps[1]", "Duplicate value"),
		Entry("a branch to a missing step",
			set("spec.steps.1", step(map[string]any{"name": "route", "branch": map[string]any{"if": "true", "then": "nowhere"}})),
			"spec.steps", "branch.then must name a step of this workflow"),
		Entry("a branch else to a missing step",
			set("spec.steps.1", step(map[string]any{"name": "route", "branch": map[string]any{"if": "true", "then": "settle", "else": "gone"}})),
			"spec.steps", "branch.else must name a step of this workflow"),
		Entry("a bad duration",
			set("spec.steps.0.wait.duration", "one hour"),
			"spec.steps[0].wait.duration", "should match"),
		Entry("a bad state enum",
			set("spec.state", "Running"),
			"spec.state", "Unsupported value"),
		Entry("a step name that is not a DNS label",
			set("spec.steps.0.name", "Settle_Down"),
			"spec.steps[0].name", "should match"),
		Entry("no steps",
			set("spec.steps", []any{}),
			"spec.steps", "should have at least 1 items"),
		Entry("a condition with both expression and field",
			set("spec.conditions", []any{map[string]any{"expression": "true", "field": "lead.source", "operator": "Equals", "value": "Website"}}),
			"spec.conditions[0]", "a condition sets exactly one of expression, field or businessHours"),
		Entry("a field condition without operator",
			set("spec.conditions", []any{map[string]any{"field": "lead.source", "value": "Website"}}),
			"spec.conditions[0]", "field and operator go together"),
		Entry("an unknown condition operator",
			set("spec.conditions", []any{map[string]any{"field": "lead.source", "operator": "Like", "value": "Web%"}}),
			"spec.conditions[0].operator", "Unsupported value"),
		Entry("business hours that close before they open",
			set("spec.conditions", []any{map[string]any{"businessHours": map[string]any{"from": "17:00", "to": "09:00"}}}),
			"spec.conditions[0].businessHours", "to must be later than from"),
		Entry("a wait with both duration and until",
			set("spec.steps.0.wait", map[string]any{"duration": "1h", "until": "now"}),
			"spec.steps[0].wait", "wait sets exactly one of duration, until or businessHours"),
		Entry("a waitForEvent without timeout",
			set("spec.steps.0", step(map[string]any{"name": "settle", "waitForEvent": map[string]any{"types": []any{"message.received"}}})),
			"spec.steps[0].waitForEvent.timeout", "Required value"),
		Entry("a webhook with neither url nor urlFrom",
			set("spec.steps.1", step(map[string]any{"name": "tag", "callWebhook": map[string]any{"method": "POST"}})),
			"spec.steps[1].callWebhook", "callWebhook sets exactly one of url or urlFrom"),
		Entry("a header with both value and valueFrom",
			set("spec.steps.1", step(map[string]any{"name": "tag", "callWebhook": map[string]any{"url": "http://x", "headers": []any{
				map[string]any{"name": "Authorization", "value": "x", "valueFrom": map[string]any{"name": "s", "key": "k"}}}}})),
			"spec.steps[1].callWebhook.headers[0]", "a header sets exactly one of value or valueFrom"),
		Entry("an event type with spaces",
			set("spec.trigger.event.types", []any{"lead created"}),
			"spec.trigger.event.types[0]", "should match"),
		Entry("an SMTP port out of range",
			set("spec.connections", map[string]any{"smtp": map[string]any{"host": "mail", "from": "a@b.c", "port": int64(70000)}}),
			"spec.connections.smtp.port", "should be less than or equal to 65535"),
		Entry("zero retry attempts",
			set("spec.retry", map[string]any{"attempts": int64(0)}),
			"spec.retry.attempts", "should be greater than or equal to 1"),
		Entry("a misspelt field (strict field validation)",
			set("spec.trigger.event.typ", []any{"x"}),
			"spec.trigger.event.typ", "unknown field"),
		Entry("a bad re-enrollment enum",
			set("spec.enrollment", map[string]any{"reenroll": "Sometimes"}),
			"spec.enrollment.reenroll", "Unsupported value"),
		Entry("an assignContact with neither user nor team",
			set("spec.steps.1", step(map[string]any{"name": "tag", "assignContact": map[string]any{"contactId": "c1"}})),
			"spec.steps[1].assignContact", "assignContact needs user or team"),
	)
})
