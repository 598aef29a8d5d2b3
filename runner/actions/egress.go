package actions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// EgressPolicy decides which addresses HTTP actions (callWebhook,
// updateExternalCRM, triggerZapier, SMS, notifications, CRM commands) may
// reach. A workflow's URLs may come from event data ({{ contact.website }}),
// and a response body lands in the run's status, so by default the policy
// refuses the addresses where a cluster keeps what must not be read:
//
//   - loopback (127.0.0.0/8, ::1) and unspecified (0.0.0.0, ::) addresses,
//   - link-local addresses (169.254.0.0/16, fe80::/10), where cloud metadata
//     services answer, and fd00:ec2::254, multicast,
//   - the manager's own ports (DenyPorts) on loopback and on this host's own
//     addresses, even when allowed.
//
// The check runs on the address actually dialled, after DNS resolution (a
// name that resolves to 127.0.0.1 is refused), on every redirect, and on
// the literal host of every URL. Other private ranges (10/8, 172.16/12,
// 192.168/16) stay reachable: in-cluster CRMs and SMS gateways live there;
// the chart's NetworkPolicy narrows them.
type EgressPolicy struct {
	// Allow lists what is reachable although the defaults deny it: CIDRs
	// ("10.0.0.0/8"), addresses ("127.0.0.1") and host names
	// ("crm.internal", or ".internal" for every name under it).
	Allow []string
	// DenyPorts are the manager's own ports (metrics, probes, receiver,
	// webhook): refused on loopback and on this host's addresses whatever
	// Allow says.
	DenyPorts []int
}

// ParseEgressAllow splits a comma-separated allow-list (the --egress-allow
// flag) and checks each entry.
func ParseEgressAllow(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, err := parseAllowEntry(e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// allowEntry is one parsed Allow entry: a prefix, or a host name pattern.
type allowEntry struct {
	prefix netip.Prefix
	host   string
}

func parseAllowEntry(e string) (allowEntry, error) {
	if p, err := netip.ParsePrefix(e); err == nil {
		return allowEntry{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(e); err == nil {
		a = a.Unmap()
		return allowEntry{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	h := strings.ToLower(strings.TrimSuffix(e, "."))
	if h == "" || strings.ContainsAny(h, "/: ") {
		return allowEntry{}, fmt.Errorf("egress allow entry %q is not a CIDR, an IP address or a host name", e)
	}
	return allowEntry{host: h}, nil
}

// egress is a compiled EgressPolicy.
type egress struct {
	allow     []allowEntry
	denyPorts map[int]bool
	own       func(netip.Addr) bool
}

// metadataAddrs answer cloud instance metadata outside the link-local range.
var metadataAddrs = []netip.Addr{netip.MustParseAddr("fd00:ec2::254")}

func compileEgress(p EgressPolicy) (*egress, error) {
	e := &egress{denyPorts: map[int]bool{}, own: ownAddresses()}
	for _, a := range p.Allow {
		entry, err := parseAllowEntry(a)
		if err != nil {
			return nil, err
		}
		e.allow = append(e.allow, entry)
	}
	for _, port := range p.DenyPorts {
		if port > 0 {
			e.denyPorts[port] = true
		}
	}
	return e, nil
}

// ownAddresses reports whether an address is one of this host's, read once.
func ownAddresses() func(netip.Addr) bool {
	set := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					set[ip.Unmap()] = true
				}
			}
		}
	}
	return func(a netip.Addr) bool { return set[a] }
}

// EgressError is a request the egress policy refused; it is permanent.
type EgressError struct {
	// Host is the URL's host name, Addr the address it reached for.
	Host, Addr string
	// Why names the rule.
	Why string
}

// Error says what was refused and how to allow it.
func (e *EgressError) Error() string {
	target := e.Addr
	if e.Host != "" && e.Host != hostOf(e.Addr) {
		target = e.Host + " (" + e.Addr + ")"
	}
	return fmt.Sprintf("egress policy refuses %s: %s", target, e.Why)
}

func hostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

// hostAllowed reports whether a host name is on the allow-list.
func (e *egress) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range e.allow {
		if a.host == "" {
			continue
		}
		if host == a.host || (strings.HasPrefix(a.host, ".") && strings.HasSuffix(host, a.host)) {
			return true
		}
	}
	return false
}

// check decides whether host (the URL's, may be empty) may be reached at ap.
func (e *egress) check(host string, ap netip.AddrPort) error {
	a := ap.Addr().Unmap()
	fail := func(why string) error {
		return &EgressError{Host: host, Addr: ap.String(), Why: why}
	}
	if e.denyPorts[int(ap.Port())] && (a.IsLoopback() || a.IsUnspecified() || e.own(a)) {
		return fail("it is one of the manager's own ports")
	}
	if host != "" && e.hostAllowed(host) {
		return nil
	}
	for _, al := range e.allow {
		if al.host == "" && al.prefix.Contains(a) {
			return nil
		}
	}
	var why string
	switch {
	case a.IsLoopback():
		why = "a loopback address"
	case a.IsUnspecified():
		why = "an unspecified address"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		why = "a link-local address (cloud metadata lives there)"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		why = "a multicast address"
	default:
		for _, m := range metadataAddrs {
			if a == m {
				why = "a cloud metadata address"
			}
		}
	}
	if why == "" {
		return nil
	}
	return fail(why + "; allow it with the manager's --egress-allow if it is meant")
}

// checkURL checks a URL's literal host before any connection, so that a
// request through a proxy is checked too and a refusal names the URL's host.
func (e *egress) checkURL(u *url.URL) error {
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if e.hostAllowed(host) {
			return nil
		}
		return &EgressError{Host: host, Addr: u.Host, Why: "a loopback name; allow it with the manager's --egress-allow if it is meant"}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return nil // a name: checked once resolved, when dialled
	}
	return e.check("", netip.AddrPortFrom(a, portOf(u)))
}

func portOf(u *url.URL) uint16 {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return uint16(p)
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}

// dialContext dials through d, checking the address actually connected to
// (after DNS resolution) in the dialer's Control hook.
func (e *egress) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host := hostOf(addr)
		checked := *d
		checked.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &EgressError{Host: host, Addr: address, Why: "not an IP address and port"}
			}
			return e.check(host, ap)
		}
		return checked.DialContext(ctx, network, addr)
	}
}

// checkRedirect is the http.Client's redirect policy:
//   - every hop is checked against the egress policy;
//   - a request other than GET or HEAD follows only a 307 or 308 to the same
//     scheme and host, which keep method and body; any other redirect is
//     answered to the caller, and the transport reports it as a failure
//     naming the Location (a 301/302/303 would turn a POST into a GET and
//     lose its payload);
//   - a redirect to another host carries none of the request's own headers
//     (they may hold secrets from valueFrom) beyond a safe few, and no
//     Referer: net/http would set it to the previous URL with its query,
//     which may be a credential (?apikey=…).
func (e *egress) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if err := e.checkURL(req.URL); err != nil {
		return err
	}
	first := via[0]
	same := sameOrigin(first.URL, req.URL)
	if first.Method != http.MethodGet && first.Method != http.MethodHead {
		code := 0
		if req.Response != nil {
			code = req.Response.StatusCode
		}
		if !same || (code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	if !same {
		for name := range req.Header {
			if !redirectSafeHeaders[http.CanonicalHeaderKey(name)] {
				req.Header.Del(name)
			}
		}
	}
	return nil
}

// redirectSafeHeaders are the headers kept on a redirect to another host.
// Referer is not one: the client fills it with the URL being left, query
// string included.
var redirectSafeHeaders = map[string]bool{
	"User-Agent": true, HeaderIdempotencyKey: true, "Accept": true, "Accept-Language": true,
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// redirectFailure explains a redirect that was not followed. The Location
// is resolved against the URL that answered it and redacted like the
// target: a server moving a secret hook URL (http to https) answers with
// the secret itself.
func redirectFailure(tg target, status int, location string, base *url.URL) error {
	loc := "no Location"
	if location != "" {
		if u, err := url.Parse(location); err == nil && base != nil {
			location = base.ResolveReference(u).String()
		}
		loc = "Location " + tg.redact(location)
	}
	return fmt.Errorf("%s: %s with %s: crmflow does not follow redirects of %s requests (they would lose their method or body, or reach another host); point the step at the new URL",
		tg, statusText(status), loc, tg.method)
}
