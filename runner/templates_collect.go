package runner

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// templateField is one Template-typed field of a step's action.
type templateField struct {
	// path relative to the step, e.g. "sendEmail.subject", "updateContact.fields[plan]".
	path string
	src  string
	json bool
}

var templateType = reflect.TypeOf(v1alpha1.Template(""))

// jsonTemplatePaths are templates holding whole JSON documents.
var jsonTemplatePaths = map[string]bool{"callWebhook.body": true}

// collectTemplates walks a step's action (by reflection, so no string field
// of any action is forgotten) and lists its non-empty templates.
func collectTemplates(step *v1alpha1.Step) []templateField {
	var out []templateField
	v := reflect.ValueOf(step).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct || v.Field(i).IsNil() {
			continue
		}
		walkTemplates(v.Field(i).Elem(), jsonName(f), &out)
	}
	return out
}

func walkTemplates(v reflect.Value, path string, out *[]templateField) {
	switch {
	case v.Type() == templateType:
		if s := v.String(); s != "" {
			*out = append(*out, templateField{path: path, src: s, json: jsonTemplatePaths[path]})
		}
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			walkTemplates(v.Elem(), path, out)
		}
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			walkTemplates(v.Field(i), path+"."+jsonName(v.Type().Field(i)), out)
		}
	case v.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkTemplates(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		keys := v.MapKeys()
		sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
		for _, k := range keys {
			walkTemplates(v.MapIndex(k), fmt.Sprintf("%s[%s]", path, k.String()), out)
		}
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
