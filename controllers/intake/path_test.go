//go:build !unit

package intake_test

import (
	"bytes"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the events path", func() {
	It("is matched as sent: an encoded slash is not a path separator", func() {
		ns := createNamespace("path")
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/namespaces/"+ns+"%2fevents", bytes.NewReader([]byte(`{}`)))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ce-Specversion", "1.0")
		r := do(req)
		Expect(r.Status).To(Equal(http.StatusNotFound), r.Raw)
		Expect(r.Error).To(ContainSubstring("no such endpoint"))
	})
})
