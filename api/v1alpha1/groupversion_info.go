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

// Package v1alpha1 contains the crmflow.io/v1alpha1 API: Workflow, which says
// which CRM events enroll whom and what happens next, and WorkflowRun, one
// enrollment advanced step by step.
// +kubebuilder:object:generate=true
// +groupName=crmflow.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every crmflow resource.
	GroupVersion = schema.GroupVersion{Group: "crmflow.io", Version: "v1alpha1"}

	// SchemeBuilder registers the crmflow types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the crmflow types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers Workflow and WorkflowRun and their lists under GroupVersion.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Workflow{}, &WorkflowList{}, &WorkflowRun{}, &WorkflowRunList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
