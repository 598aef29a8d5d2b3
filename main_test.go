package main

import (
	"io"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// parseFlags is the manager's only input before it connects anywhere: bad
// values must be refused with the flag (or environment variable) named.
func TestParseFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(g Gomega, c config)
	}{
		{name: "defaults", check: func(g Gomega, c config) {
			g.Expect(c.receiverAddr).To(Equal(":8090"))
			g.Expect(c.maxHops).To(Equal(8))
			g.Expect(c.leaderElect).To(BeTrue())
			g.Expect(c.secretMaxAge.String()).To(Equal("10s"))
		}},
		{name: "flags", args: []string{"--max-hops=3", "--crm-sink-url=http://crm.local/in", "--leader-elect=false"},
			check: func(g Gomega, c config) {
				g.Expect(c.maxHops).To(Equal(3))
				g.Expect(c.crmSinkURL).To(Equal("http://crm.local/in"))
				g.Expect(c.leaderElect).To(BeFalse())
			}},
		{name: "environment", env: map[string]string{"CRMFLOW_CRM_SINK_URL": "http://env/in", "CRMFLOW_RUN_WORKERS": "4"},
			check: func(g Gomega, c config) {
				g.Expect(c.crmSinkURL).To(Equal("http://env/in"))
				g.Expect(c.runWorkers).To(Equal(4))
			}},
		{name: "a flag wins over the environment", args: []string{"--run-workers=2"}, env: map[string]string{"CRMFLOW_RUN_WORKERS": "4"},
			check: func(g Gomega, c config) { g.Expect(c.runWorkers).To(Equal(2)) }},
		{name: "zero hops", args: []string{"--max-hops=0"}, wantErr: "--max-hops must be at least 1, got 0"},
		{name: "zero workers", args: []string{"--run-workers=0"}, wantErr: "--run-workers must be at least 1"},
		{name: "negative Secret reuse", args: []string{"--secret-max-age=-1s"}, wantErr: "--secret-max-age must not be negative, got -1s"},
		{name: "tiny event limit", args: []string{"--max-event-bytes=10"}, wantErr: "--max-event-bytes must be at least 1024"},
		{name: "not a number", args: []string{"--max-hops=many"}, wantErr: "max-hops"},
		{name: "bad environment value", env: map[string]string{"CRMFLOW_MAX_HOPS": "many"}, wantErr: `CRMFLOW_MAX_HOPS="many"`},
		{name: "egress allow-list", args: []string{"--egress-allow=127.0.0.1, 10.0.0.0/8", "--egress-allow=crm.internal"},
			check: func(g Gomega, c config) {
				g.Expect(c.egressAllow).To(Equal([]string{"127.0.0.1", "10.0.0.0/8", "crm.internal"}))
				g.Expect(c.ownPorts()).To(ConsistOf(9443, 8082, 8081, 8090))
			}},
		{name: "signature tolerance", args: []string{"--signature-tolerance=2m"},
			check: func(g Gomega, c config) { g.Expect(c.sigTolerance).To(Equal(2 * time.Minute)) }},
		{name: "signature tolerance too small", args: []string{"--signature-tolerance=0s"}, wantErr: "--signature-tolerance must be at least 1s"},
		{name: "bad egress entry", env: map[string]string{"CRMFLOW_EGRESS_ALLOW": "10.0.0.0/99"}, wantErr: `"10.0.0.0/99" is not a CIDR`},
		{name: "unknown flag", args: []string{"--max-hopz=3"}, wantErr: "max-hopz"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := parseFlagsTo(tc.args, io.Discard)
			if tc.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			tc.check(g, c)
		})
	}
}
