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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Duration is a length of time in Go's duration syntax extended with days and
// weeks: "90s", "15m", "1h30m", "2d" (48h), "1w" (168h). A day is always 24
// hours, whatever the calendar does. At most 36500d (100 years).
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$`
// +kubebuilder:validation:MaxLength=32
type Duration string

// SignedDuration is a Duration that may start with "-" to point into the past,
// e.g. "-72h" for three days before a date.
// +kubebuilder:validation:Pattern=`^-?([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$`
// +kubebuilder:validation:MaxLength=33
type SignedDuration string

// Expression is a CEL expression. See docs/expressions.md for the variables
// (event, data, contact, lead, ticket, conversation, message, appointment,
// subject, steps, run, workflow, now) and the helper functions.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=4096
type Expression string

// Template is a string in which every `{{ expr }}` is replaced by the value
// of the CEL expression expr, evaluated with the same variables as conditions.
// +kubebuilder:validation:MaxLength=65536
type Template string

// SecretReference names a Secret in the workflow's own namespace. There is no
// namespace field on purpose: credentials never cross namespaces.
type SecretReference struct {
	// name of the Secret in the workflow's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretKeySelector names one key of a Secret in the workflow's own namespace.
type SecretKeySelector struct {
	// name of the Secret in the workflow's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// RetryPolicy says how often and how patiently a side-effecting step is
// attempted. Every attempt of a step carries the same idempotency key, so a
// receiver can drop repeats.
type RetryPolicy struct {
	// attempts is the total number of tries, the first included. 1 means no retry.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	Attempts *int32 `json:"attempts,omitempty"`

	// initialBackoff is the wait before the second attempt; each later wait
	// doubles, with jitter, up to maxBackoff. A Retry-After answer overrides it.
	// +optional
	// +kubebuilder:default="1s"
	InitialBackoff *Duration `json:"initialBackoff,omitempty"`

	// maxBackoff caps the wait between two attempts.
	// +optional
	// +kubebuilder:default="5m"
	MaxBackoff *Duration `json:"maxBackoff,omitempty"`
}

// CloudEvent is a CloudEvents 1.0 event as crmflow keeps it: the triggering
// event of a run, or an event delivered to a waiting run.
type CloudEvent struct {
	// id of the event, unique per source.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ID string `json:"id"`

	// source identifies the context in which the event happened (a URI-reference).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Source string `json:"source"`

	// type of the event, e.g. "lead.created". See docs/events.md for the catalogue.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Type string `json:"type"`

	// subject of the event: in crmflow's catalogue, the id of the contact it is about.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Subject string `json:"subject,omitempty"`

	// time at which the event happened, as the producer says.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`

	// dataContentType of data; crmflow reads JSON data only.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	DataContentType string `json:"dataContentType,omitempty"`

	// extensions are the event's extension attributes as strings, among them
	// crmflow's loop-prevention attributes (crmflowhops, crmflowchain).
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Extensions map[string]string `json:"extensions,omitempty"`

	// data is the event's JSON payload. Its top-level keys contact, lead,
	// ticket, conversation, message and appointment become the variables of
	// the same names in expressions. Intake caps its size (64 KiB by default).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Data *runtime.RawExtension `json:"data,omitempty"`
}

// Weekday is a day of the week by its three-letter English name.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// Days of the week.
const (
	Monday    Weekday = "Mon"
	Tuesday   Weekday = "Tue"
	Wednesday Weekday = "Wed"
	Thursday  Weekday = "Thu"
	Friday    Weekday = "Fri"
	Saturday  Weekday = "Sat"
	Sunday    Weekday = "Sun"
)

// BusinessHours is a weekly window of opening hours in one time zone.
// +kubebuilder:validation:XValidation:rule="self.to > self.from",message="to must be later than from"
type BusinessHours struct {
	// timeZone is an IANA time-zone name, e.g. "America/New_York".
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// days on which the window is open. Default Monday to Friday.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	Days []Weekday `json:"days,omitempty"`

	// from is the opening time, "HH:MM" on a 24-hour clock, inclusive.
	// +required
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	From string `json:"from"`

	// to is the closing time, "HH:MM" on a 24-hour clock, exclusive; it must be after from.
	// +required
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-4]):[0-5][0-9]$`
	To string `json:"to"`
}
