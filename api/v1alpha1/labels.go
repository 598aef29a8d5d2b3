/*
Copyright 2026 The crmflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Labels and annotations crmflow sets on WorkflowRuns.
const (
	// LabelWorkflow carries the name of the run's Workflow.
	LabelWorkflow = "crmflow.io/workflow"
	// LabelSubjectHash carries a hash of the run's subject (subjects are not
	// always valid label values), for selecting a subject's runs.
	LabelSubjectHash = "crmflow.io/subject-hash"
	// LabelTrigger says what created the run: event, schedule, dateField or test.
	LabelTrigger = "crmflow.io/trigger"
	// AnnotationCancelReason, set beside spec.cancel, says why the run was
	// cancelled; the run's result message shows it instead of "cancelled by
	// spec.cancel". Intake sets it on a pending date run whose date an event
	// cleared or moved into the past; people may set it too.
	AnnotationCancelReason = "crmflow.io/cancel-reason"
)

// LabelTrigger values: what created a run.
const (
	// TriggerEvent marks a run an event enrolled (an event trigger).
	TriggerEvent = "event"
	// TriggerDateField marks a run a dateField trigger scheduled at a date
	// an event carried.
	TriggerDateField = "dateField"
	// TriggerSchedule marks the run of a schedule trigger's cron tick.
	TriggerSchedule = "schedule"
)

// SubjectHash is the LabelSubjectHash value of a subject (subjects are not
// always valid label values): the first 20 hex digits of the SHA-256 of the
// subject followed by a NUL byte. Every writer of runs uses it, so a subject's
// scheduled and event-enrolled runs select alike.
func SubjectHash(subject string) string {
	sum := sha256.Sum256(append([]byte(subject), 0))
	return hex.EncodeToString(sum[:])[:20]
}

// WorkflowLabelValue is the LabelWorkflow value of a workflow name: the name
// itself when it is a valid label value (up to 63 characters), else its first
// 40 characters and a hash. Every writer and reader of the label uses it, so
// runs of long-named workflows are found like any other.
func WorkflowLabelValue(name string) string {
	if len(name) <= 63 && labelValueRE.MatchString(name) {
		return name
	}
	p := name
	if len(p) > 40 {
		p = p[:40]
	}
	sum := sha256.Sum256([]byte(name))
	v := strings.TrimLeftFunc(p+"-"+hex.EncodeToString(sum[:])[:16], func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	})
	return v
}

// labelValueRE is Kubernetes' label value syntax (without the length limit).
var labelValueRE = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
