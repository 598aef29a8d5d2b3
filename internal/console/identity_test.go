package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

func TestBearerTokenSchemeIsCaseInsensitive(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer tok":         "tok",
		"bearer tok":         "tok",
		"BEARER tok":         "tok",
		"bEaReR  tok  ":      "tok",
		"Basic dXNlcjpwdw==": "from-cookie",
		"Bearertok":          "from-cookie",
		"":                   "from-cookie",
	} {
		t.Run(header, func(t *testing.T) {
			g := NewWithT(t)
			r := httptest.NewRequest(http.MethodGet, "/api/namespaces", nil)
			if header != "" {
				r.Header.Set("Authorization", header)
			}
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "from-cookie"})
			g.Expect(bearerToken(r)).To(Equal(want))
		})
	}
}

// TestKubeErrorClientSideValidationIs400 makes client-go refuse requests
// itself (no API server is reached: the address is never dialled for them).
func TestKubeErrorClientSideValidationIs400(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	g.Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	c, err := client.New(&rest.Config{Host: "http://127.0.0.1:1"}, client.Options{Scheme: scheme, Mapper: staticMapper()})
	g.Expect(err).NotTo(HaveOccurred())
	for name, key := range map[string]types.NamespacedName{
		"namespace with a slash": {Namespace: "../default", Name: "vip"},
		"name with a slash":      {Namespace: "default", Name: "../../api/v1/namespaces/default/secrets"},
		"dot-dot name":           {Namespace: "default", Name: ".."},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := kubeError(c.Get(context.Background(), key, &v1alpha1.Workflow{}), "get workflow")
			var ae *apiError
			g.Expect(errors.As(err, &ae)).To(BeTrue(), "%v", err)
			g.Expect(ae.status).To(Equal(http.StatusBadRequest))
			g.Expect(ae.Message).To(HavePrefix("get workflow: invalid "))
		})
	}

	// An error that is not the caller's stays a 500.
	err = kubeError(errors.New("connection refused"), "list runs")
	var ae *apiError
	g.Expect(errors.As(err, &ae)).To(BeFalse())
	g.Expect(err.Error()).To(Equal("list runs: connection refused"))
}
