// Package history is crmflow's run history store: finished WorkflowRuns and
// skipped events, kept in SQL (embedded SQLite by default, PostgreSQL for
// production) after they leave etcd, so "what did crmflow do to this contact
// last month?" and "why didn't it fire?" keep an answer for the retention period.
//
// The archiver (subpackage archiver) writes runs; the API (subpackage api)
// reads them on behalf of a Kubernetes user; intake asks HasEvent to keep its
// deduplication promise once a run has left etcd.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Defaults of the store's bounds.
const (
	// DefaultRetention is how long finished runs and skips are kept.
	DefaultRetention = 90 * 24 * time.Hour
	// DefaultMaxEventBytes caps the stored trigger event (attributes + data, as JSON).
	DefaultMaxEventBytes = 16 << 10
	// DefaultSkipsPerMinute caps skipped events stored per workflow per minute.
	DefaultSkipsPerMinute = 60
	// MaxLimit is the largest page a query returns.
	MaxLimit = 500
	// DefaultLimit is the page size when a query names none.
	DefaultLimit = 50
)

// ErrNotFound is returned by GetRun when no stored run has that name.
var ErrNotFound = errors.New("not found")

// ErrInvalidCursor is returned when a pagination cursor was not issued by the store.
var ErrInvalidCursor = errors.New("invalid cursor")

// Run is one finished WorkflowRun as the store keeps it.
type Run struct {
	// UID is the run's metadata.uid; the store keeps each UID once.
	UID string `json:"uid"`
	// Namespace and Name are the run's metadata.namespace and metadata.name.
	Namespace string `json:"namespace"`
	// Name is the run's metadata.name.
	Name string `json:"name"`
	// Workflow is spec.workflowName.
	Workflow string `json:"workflow"`
	// WorkflowRevision is the ControllerRevision the run started on, when the run records one.
	WorkflowRevision string `json:"workflowRevision,omitempty"`
	// WorkflowGeneration is the workflow's generation the run started on.
	WorkflowGeneration int64 `json:"workflowGeneration,omitempty"`
	// Subject is whom the run was about (usually a contact id).
	Subject string `json:"subject,omitempty"`
	// EventSource, EventID and EventType are the trigger CloudEvent's attributes.
	EventSource string `json:"eventSource,omitempty"`
	// EventID is the trigger CloudEvent's id.
	EventID string `json:"eventID,omitempty"`
	// EventType is the trigger CloudEvent's type.
	EventType string `json:"eventType,omitempty"`
	// Event is the trigger CloudEvent as JSON, nil when it was larger than the cap.
	Event json.RawMessage `json:"event,omitempty"`
	// EventTruncated is true when Event was dropped for its size.
	EventTruncated bool `json:"eventTruncated,omitempty"`
	// ScheduledTime is spec.scheduledTime for schedule and date runs.
	ScheduledTime *time.Time `json:"scheduledTime,omitempty"`
	// Conditions are the enrollment conditions evaluated, with their results and messages.
	Conditions []v1alpha1.ConditionResult `json:"conditions,omitempty"`
	// StatusConditions are the run's status.conditions (Enrolled, Succeeded) at its end.
	StatusConditions []metav1.Condition `json:"statusConditions,omitempty"`
	// Steps is every step record of the run.
	Steps []v1alpha1.StepStatus `json:"steps,omitempty"`
	// Phase is Succeeded, Failed or Cancelled.
	Phase string `json:"phase"`
	// Result is the reason the run finished (Completed, GoalReached, StepFailed, …).
	Result string `json:"result,omitempty"`
	// Message is the run's final message.
	Message string `json:"message,omitempty"`
	// Created is metadata.creationTimestamp.
	Created time.Time `json:"created"`
	// Started is status.startTime, zero when the run never started.
	Started time.Time `json:"started,omitzero"`
	// Finished is status.completionTime (Created when the run recorded none).
	Finished time.Time `json:"finished"`
}

// Skip is one event that did not enroll a workflow, and why.
type Skip struct {
	// Namespace and Workflow name the workflow that did not enroll.
	Namespace string `json:"namespace"`
	// Workflow is the workflow's name.
	Workflow string `json:"workflow"`
	// Reason is the skip reason (ConditionsNotMet, Paused, AlreadyEnrolled, …).
	Reason string `json:"reason"`
	// EventID and EventSource identify the CloudEvent.
	EventID string `json:"eventID,omitempty"`
	// EventSource is the CloudEvent's source.
	EventSource string `json:"eventSource,omitempty"`
	// Subject is whom the event was about.
	Subject string `json:"subject,omitempty"`
	// Message says what a person can do about it.
	Message string `json:"message,omitempty"`
	// Time is when the event was skipped.
	Time time.Time `json:"time"`
}

// RunQuery selects runs of one workflow. Zero fields do not filter.
type RunQuery struct {
	// Namespace is required.
	Namespace string
	// Workflow is required for ListRuns.
	Workflow string
	// Subject, when set, keeps only runs about this subject.
	Subject string
	// Phase, when set, keeps only runs that finished in this phase.
	Phase string
	// From and To bound the runs' creation time: From <= created < To.
	From, To time.Time
	// Limit is the page size, 1..MaxLimit (0: DefaultLimit).
	Limit int
	// Cursor continues a previous page (RunPage.Next).
	Cursor string
}

// RunPage is one page of runs, newest first.
type RunPage struct {
	// Runs are the runs of this page, newest first.
	Runs []Run `json:"runs"`
	// Next continues after the last run of this page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// SkipQuery selects skipped events in one namespace. At least one of EventID,
// Subject or Workflow should be set.
type SkipQuery struct {
	// Namespace is required.
	Namespace string
	// Workflow, EventID and Subject filter when set.
	Workflow string
	// EventID keeps only skips of this CloudEvent id.
	EventID string
	// Subject keeps only skips about this subject.
	Subject string
	// From and To bound the skip time.
	From, To time.Time
	// Limit is the number of skips returned, 1..MaxLimit (0: DefaultLimit).
	Limit int
}

// StepStats counts one step's records on one day.
type StepStats struct {
	// Name is the step's name.
	Name string `json:"name"`
	// Reached counts runs that recorded the step at all.
	Reached int64 `json:"reached"`
	// Succeeded, Failed and Skipped count the step's final phases.
	Succeeded int64 `json:"succeeded"`
	// Failed counts runs whose step failed.
	Failed int64 `json:"failed"`
	// Skipped counts runs whose step's guard was false.
	Skipped int64 `json:"skipped"`
}

// DayStats is one workflow's analytics for one UTC day (runs bucketed by their creation day).
type DayStats struct {
	// Day is the UTC day, YYYY-MM-DD.
	Day string `json:"day"`
	// Enrolled counts archived runs created that day.
	Enrolled int64 `json:"enrolled"`
	// Completed, Failed and Cancelled count their final phases.
	Completed int64 `json:"completed"`
	// Failed counts runs that finished Failed.
	Failed int64 `json:"failed"`
	// Cancelled counts runs that finished Cancelled.
	Cancelled int64 `json:"cancelled"`
	// GoalReached counts runs ended by an exit goal.
	GoalReached int64 `json:"goalReached"`
	// ConversionRate is GoalReached / Enrolled (0 when none enrolled).
	ConversionRate float64 `json:"conversionRate"`
	// Steps counts each step's records.
	Steps []StepStats `json:"steps,omitempty"`
}

// Analytics is the per-day analytics of one workflow, with the totals.
type Analytics struct {
	// Namespace and Workflow name the workflow.
	Namespace string `json:"namespace"`
	// Workflow is the workflow's name.
	Workflow string `json:"workflow"`
	// Days are the days with runs, oldest first.
	Days []DayStats `json:"days"`
	// Total sums Days (its Day is empty).
	Total DayStats `json:"total"`
}

// Bounds are the store's retention and size bound, enforced by Prune.
type Bounds struct {
	// Retention removes runs finished, and skips recorded, longer ago than this (0: DefaultRetention).
	Retention time.Duration
	// MaxRuns keeps at most this many runs, dropping the oldest first (0: unbounded).
	MaxRuns int64
	// MaxBytes keeps the stored runs' encoded size at most this, dropping the oldest first (0: unbounded).
	MaxBytes int64
}

// PruneResult says what Prune removed.
type PruneResult struct {
	// Runs, Skips and EventKeys are the rows removed.
	Runs int64
	// Skips is the number of skip rows removed.
	Skips int64
	// EventKeys is the number of deduplication keys removed.
	EventKeys int64
}

// Store keeps finished runs and skipped events. Implementations are safe for
// concurrent use.
type Store interface {
	// Archive writes finished runs in one transaction. A run whose UID is
	// already stored is left as it is, so retrying a batch never stores a run twice.
	Archive(ctx context.Context, runs []Run) error
	// RecordSkips stores skipped events, at most the store's cap per workflow
	// per minute; it returns how many were kept.
	RecordSkips(ctx context.Context, skips []Skip) (int, error)
	// HasEvent reports whether a run of workflow enrolled by the event
	// (source, id) is stored: the deduplication key once the run left etcd.
	HasEvent(ctx context.Context, namespace, workflow, source, id string) (bool, error)
	// GetRun returns the newest stored run named name in namespace, or ErrNotFound.
	GetRun(ctx context.Context, namespace, name string) (Run, error)
	// ListRuns returns runs of q.Workflow, newest first, a page at a time.
	ListRuns(ctx context.Context, q RunQuery) (RunPage, error)
	// Timeline returns runs about q.Subject across all workflows of q.Namespace, newest first.
	Timeline(ctx context.Context, q RunQuery) (RunPage, error)
	// Skips returns skipped events matching q, newest first.
	Skips(ctx context.Context, q SkipQuery) ([]Skip, error)
	// Analytics returns per-day counts of workflow's runs created in [from, to).
	Analytics(ctx context.Context, namespace, workflow string, from, to time.Time) (Analytics, error)
	// Prune enforces the bounds as of now.
	Prune(ctx context.Context, now time.Time, b Bounds) (PruneResult, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}
