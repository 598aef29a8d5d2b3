package actions

import (
	"net/url"
)

// RedactURL returns raw without what may be a credential: user info, query
// and fragment are dropped ("https://api.example.com/v1/hook"). A URL that
// does not parse becomes "<invalid URL>", never the raw text.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid URL>"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// RedactSecretURL returns only the scheme and host of raw, for URLs that are
// credentials as a whole (Slack incoming webhooks, Zapier catch hooks):
// "https://hooks.zapier.com/…".
func RedactSecretURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
