package cloudevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	ceevent "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Media types of the CloudEvents HTTP modes, and the version crmflow speaks.
const (
	// StructuredJSON is the structured mode: the whole event is the JSON body.
	StructuredJSON = "application/cloudevents+json"
	// BatchJSON is the batched mode: a JSON array of structured events.
	BatchJSON = "application/cloudevents-batch+json"
	// JSON is the content type of JSON event data; in binary mode it is the
	// request's Content-Type.
	JSON = "application/json"
	// SpecVersion is the one CloudEvents version crmflow reads and writes.
	SpecVersion = "1.0"
)

// Limits bound what one request may carry. Zero fields take the defaults.
type Limits struct {
	// MaxBatch is the most events one batched request may hold (default 100).
	MaxBatch int
	// MaxDataBytes is the largest data one event may carry (default 64 KiB),
	// the cap of the event kept in a WorkflowRun.
	MaxDataBytes int
	// MaxHopsValue is the largest crmflowhops value accepted as input at all
	// (default 1000); the enrollment hop limit is a separate, smaller setting.
	MaxHopsValue int32
}

func (l Limits) withDefaults() Limits {
	if l.MaxBatch <= 0 {
		l.MaxBatch = 100
	}
	if l.MaxDataBytes <= 0 {
		l.MaxDataBytes = 64 << 10
	}
	if l.MaxHopsValue <= 0 {
		l.MaxHopsValue = 1000
	}
	return l
}

// Attribute limits, the same as the WorkflowRun schema's, so that an accepted
// event always fits in a run.
const (
	// MaxIDLength is the longest id accepted.
	MaxIDLength = 256
	// MaxSourceLength is the longest source accepted.
	MaxSourceLength = 1024
	// MaxTypeLength is the longest type accepted.
	MaxTypeLength = 256
	// MaxSubjectLength is the longest subject accepted.
	MaxSubjectLength = 1024
	// MaxContentTypeLength is the longest datacontenttype accepted.
	MaxContentTypeLength = 256
	// MaxExtensions is the most extension attributes one event may carry.
	MaxExtensions = 32
	// MaxChainLinks is the most links the crmflowchain extension may hold.
	MaxChainLinks = 32
	// MaxLinkLength is the longest link of the crmflowchain extension.
	MaxLinkLength = 1024
)

// Decode turns the headers and body of one POST into events. It recognises
// the three HTTP modes by Content-Type (batched, structured) or by the
// ce-specversion header (binary), accepts CloudEvents 1.0 only, and checks
// every event: required attributes, lengths, JSON data, loop extensions. A
// batch is refused whole when one of its events is bad, naming its index.
func Decode(h http.Header, body []byte, lim Limits) ([]v1alpha1.CloudEvent, error) {
	lim = lim.withDefaults()
	mediaType := ""
	if ct := h.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, errorf(Unsupported, "malformed Content-Type %q: %v", ct, err)
		}
		mediaType = strings.ToLower(mt)
	}
	switch {
	case mediaType == BatchJSON:
		return decodeBatch(body, lim)
	case mediaType == StructuredJSON:
		ev, err := decodeStructured(body, lim)
		if err != nil {
			return nil, err
		}
		return []v1alpha1.CloudEvent{ev}, nil
	case strings.HasPrefix(mediaType, "application/cloudevents"):
		return nil, errorf(Unsupported,
			"unsupported CloudEvents format %q: use %s or %s", mediaType, StructuredJSON, BatchJSON)
	case len(h.Values("Ce-Specversion")) > 0: // present, even empty: binary mode, and checkSpecVersion names the value
		ev, err := decodeBinary(h, body, lim)
		if err != nil {
			return nil, err
		}
		return []v1alpha1.CloudEvent{ev}, nil
	default:
		return nil, errorf(Unsupported,
			"not a CloudEvent: Content-Type %q and no ce-specversion header; send binary mode (ce-* headers), %s or %s",
			mediaType, StructuredJSON, BatchJSON)
	}
}

func decodeBatch(body []byte, lim Limits) ([]v1alpha1.CloudEvent, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, errorf(Malformed, "batch: body is not a JSON array of events: %v", err)
	}
	if len(raw) == 0 {
		return nil, errorf(Malformed, "batch: empty; send at least one event")
	}
	if len(raw) > lim.MaxBatch {
		return nil, errorf(TooLarge, "batch: %d events; the limit is %d", len(raw), lim.MaxBatch)
	}
	out := make([]v1alpha1.CloudEvent, 0, len(raw))
	for i, r := range raw {
		ev, err := decodeStructured(r, lim)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, &Error{Reason: e.Reason, Message: fmt.Sprintf("batch[%d]: %s", i, e.Message)}
			}
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func decodeStructured(body []byte, lim Limits) (v1alpha1.CloudEvent, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return v1alpha1.CloudEvent{}, errorf(Malformed, "structured event: body is not a JSON object")
	}
	if !utf8.Valid(trimmed) {
		// JSON decoders would turn each invalid byte into U+FFFD.
		return v1alpha1.CloudEvent{}, errorf(Malformed, "structured event: body is not valid UTF-8")
	}
	// The SDK reads specversion wherever it appears; look first so an
	// unsupported version gets its own message instead of a parse error.
	var probe struct {
		SpecVersion *string         `json:"specversion"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return v1alpha1.CloudEvent{}, errorf(Malformed, "malformed CloudEvent JSON: %v", err)
	}
	if err := checkAttributeNames(trimmed); err != nil {
		return v1alpha1.CloudEvent{}, err
	}
	if probe.SpecVersion == nil {
		return v1alpha1.CloudEvent{}, errorf(Malformed, "missing required attribute \"specversion\"")
	}
	if err := checkSpecVersion(*probe.SpecVersion); err != nil {
		return v1alpha1.CloudEvent{}, err
	}
	// The SDK's parser refuses some out-of-range numbers with an obscure
	// message: check the data's shape first, as binary mode does.
	if len(probe.Data) > 0 {
		if err := checkJSONShape(probe.Data, MaxDataDepth); err != nil {
			return v1alpha1.CloudEvent{}, err
		}
	}
	var ev ceevent.Event
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return v1alpha1.CloudEvent{}, errorf(Malformed, "malformed CloudEvent: %s", truncateText(err.Error(), 200))
	}
	return convert(&ev, lim)
}

// checkAttributeNames refuses a structured event whose member names are not
// CloudEvents attribute names (lower-case letters and digits, or
// data_base64) or appear twice. The SDK's parser stops at an empty name and
// drops every member after it, and the probe above matches names without
// regard to case: either would let the event be read in two ways.
func checkAttributeNames(object []byte) error {
	dec := json.NewDecoder(bytes.NewReader(object))
	if _, err := dec.Token(); err != nil { // the opening brace
		return errorf(Malformed, "malformed CloudEvent JSON: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errorf(Malformed, "malformed CloudEvent JSON: %v", err)
		}
		name, _ := tok.(string)
		if !validAttributeName(name) {
			return errorf(Malformed, "attribute name %q: CloudEvents attribute names are lower-case letters a-z and digits", truncateText(name, 64))
		}
		if seen[name] {
			return errorf(Malformed, "attribute %q appears twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errorf(Malformed, "malformed CloudEvent JSON: attribute %q: %v", name, err)
		}
	}
	return nil
}

func validAttributeName(name string) bool {
	if name == "data_base64" {
		return true
	}
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func decodeBinary(h http.Header, body []byte, lim Limits) (v1alpha1.CloudEvent, error) {
	if err := checkSpecVersion(h.Get("Ce-Specversion")); err != nil {
		return v1alpha1.CloudEvent{}, err
	}
	var reader io.ReadCloser
	if len(body) > 0 {
		reader = io.NopCloser(bytes.NewReader(body))
	}
	msg := cehttp.NewMessage(h, reader)
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		return v1alpha1.CloudEvent{}, errorf(Malformed, "malformed binary-mode CloudEvent: %s", oneLine(err))
	}
	return convert(ev, lim)
}

func checkSpecVersion(v string) error {
	if v != SpecVersion {
		return errorf(Malformed, "unsupported specversion %q: crmflow accepts CloudEvents 1.0", v)
	}
	return nil
}

// convert validates an SDK event and turns it into the API type.
func convert(ev *ceevent.Event, lim Limits) (v1alpha1.CloudEvent, error) {
	if err := ev.Validate(); err != nil {
		return v1alpha1.CloudEvent{}, validationError(err)
	}
	out := v1alpha1.CloudEvent{
		ID:              ev.ID(),
		Source:          ev.Source(),
		Type:            ev.Type(),
		Subject:         ev.Subject(),
		DataContentType: ev.DataContentType(),
	}
	for _, c := range []struct {
		name  string
		value string
		max   int
	}{
		{"id", out.ID, MaxIDLength}, {"source", out.Source, MaxSourceLength}, {"type", out.Type, MaxTypeLength},
		{"subject", out.Subject, MaxSubjectLength}, {"datacontenttype", out.DataContentType, MaxContentTypeLength},
	} {
		if err := checkText(c.name, c.value); err != nil {
			return v1alpha1.CloudEvent{}, err
		}
		if n := utf8.RuneCountInString(c.value); n > c.max {
			return v1alpha1.CloudEvent{}, errorf(Malformed,
				"attribute %q is %d characters; the limit is %d", c.name, n, c.max)
		}
	}
	if t := ev.Time(); !t.IsZero() {
		mt := metav1.NewTime(t)
		out.Time = &mt
	}
	if err := convertExtensions(ev.Extensions(), &out, lim); err != nil {
		return v1alpha1.CloudEvent{}, err
	}
	if err := convertData(ev, &out, lim); err != nil {
		return v1alpha1.CloudEvent{}, err
	}
	return out, nil
}

// checkText refuses an attribute value that is not valid UTF-8 or holds a
// control character: stored in a run, invalid bytes would become U+FFFD, and
// two different events could then carry the same id.
func checkText(name, value string) error {
	if !utf8.ValidString(value) {
		return errorf(Malformed, "attribute %q is not valid UTF-8", name)
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return errorf(Malformed, "attribute %q holds the control character %U", name, r)
		}
	}
	return nil
}

func convertExtensions(exts map[string]any, out *v1alpha1.CloudEvent, lim Limits) error {
	if len(exts) == 0 {
		return nil
	}
	if len(exts) > MaxExtensions {
		return errorf(Malformed, "%d extension attributes; the limit is %d", len(exts), MaxExtensions)
	}
	out.Extensions = make(map[string]string, len(exts))
	for name, v := range exts {
		s, err := types.Format(v)
		if err != nil {
			return errorf(Malformed, "extension %q: %s", name, truncateText(err.Error(), 200))
		}
		if err := checkText("extension "+name, s); err != nil {
			return err
		}
		out.Extensions[name] = s
	}
	_, err := ParseChain(out.Extensions, lim.MaxHopsValue)
	return err
}

// ParseChain reads the loop-prevention extensions crmflowhops and
// crmflowchain of an event. Absent extensions mean an event from outside
// crmflow (hops 0, no links).
func ParseChain(exts map[string]string, maxHops int32) (v1alpha1.CausalChain, error) {
	var chain v1alpha1.CausalChain
	if maxHops <= 0 {
		maxHops = Limits{}.withDefaults().MaxHopsValue
	}
	if s, ok := exts[v1alpha1.ExtensionHops]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil || n < 0 || n > int64(maxHops) {
			return chain, errorf(Malformed,
				"extension %s=%q is not an integer between 0 and %d", v1alpha1.ExtensionHops, s, maxHops)
		}
		chain.Hops = int32(n)
	}
	if s := exts[v1alpha1.ExtensionChain]; s != "" {
		links := strings.Split(s, ",")
		if len(links) > MaxChainLinks {
			return chain, errorf(Malformed,
				"extension %s has %d links; the limit is %d", v1alpha1.ExtensionChain, len(links), MaxChainLinks)
		}
		for _, l := range links {
			l = strings.TrimSpace(l)
			if l == "" || len(l) > MaxLinkLength {
				return chain, errorf(Malformed,
					"extension %s holds an empty or over-long link; expected comma-separated namespace/workflow/subject",
					v1alpha1.ExtensionChain)
			}
			chain.Links = append(chain.Links, l)
		}
	}
	return chain, nil
}

// convertData keeps the event's data when it is JSON: crmflow's expressions
// read JSON only.
func convertData(ev *ceevent.Event, out *v1alpha1.CloudEvent, lim Limits) error {
	data := ev.Data()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if !IsJSONContentType(out.DataContentType) {
		return errorf(Unsupported,
			"datacontenttype %q: crmflow reads JSON data only (application/json or a +json type)", out.DataContentType)
	}
	if len(data) > lim.MaxDataBytes {
		return errorf(TooLarge,
			"event data is %d bytes; the limit is %d bytes", len(data), lim.MaxDataBytes)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return errorf(Malformed,
			"data is not valid JSON although datacontenttype is %q: %v", contentTypeOrDefault(out.DataContentType), err)
	}
	if err := checkJSONShape(compact.Bytes(), MaxDataDepth); err != nil {
		return err
	}
	out.Data = &runtime.RawExtension{Raw: compact.Bytes()}
	return nil
}

// IsJSONContentType reports whether a datacontenttype declares JSON; an
// absent one means JSON, as the CloudEvents JSON format says.
func IsJSONContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	mt = strings.ToLower(mt)
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func contentTypeOrDefault(ct string) string {
	if ct == "" {
		return "application/json (implied)"
	}
	return ct
}

// validationError turns the SDK's validation map into one stable message.
func validationError(err error) error {
	var ve ceevent.ValidationError
	if !errors.As(err, &ve) {
		return errorf(Malformed, "invalid CloudEvent: %s", oneLine(err))
	}
	names := make([]string, 0, len(ve))
	for k := range ve {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		msg := ve[k].Error()
		if msg == "REQUIRED" || msg == "MUST be a non-empty string" {
			parts = append(parts, fmt.Sprintf("missing required attribute %q", k))
			continue
		}
		parts = append(parts, fmt.Sprintf("attribute %q: %s", k, msg))
	}
	return errorf(Malformed, "invalid CloudEvent: %s", strings.Join(parts, "; "))
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
