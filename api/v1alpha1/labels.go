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
	// LabelFinished is "true" once the run finished, so active runs are cheap to select.
	LabelFinished = "crmflow.io/finished"
)

// SubjectHash is the LabelSubjectHash value of a subject (subjects are not
// always valid label values): the first 20 hex digits of the SHA-256 of the
// subject followed by a NUL byte. Every writer of runs uses it, so a subject's
// scheduled and event-enrolled runs select alike.
func SubjectHash(subject string) string {
	sum := sha256.Sum256(append([]byte(subject), 0))
	return hex.EncodeToString(sum[:])[:20]
}
