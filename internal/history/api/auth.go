package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// errUnauthenticated is a missing, malformed or rejected bearer token.
var errUnauthenticated = errors.New("unauthenticated")

// reviewer answers "who is this token?" with TokenReview and "may they list
// workflowruns in this namespace?" with SubjectAccessReview, caching both
// answers for a few seconds so a page of requests costs one review.
type reviewer struct {
	client client.Client
	clock  clock.PassiveClock
	ttl    time.Duration

	mu     sync.Mutex
	users  map[[32]byte]cachedUser
	access map[string]cachedAccess
}

type cachedUser struct {
	user    authnv1.UserInfo
	ok      bool
	expires time.Time
}

type cachedAccess struct {
	allowed bool
	expires time.Time
}

// maxCached bounds each cache; a full cache is emptied rather than grown.
const maxCached = 4096

func newReviewer(c client.Client, clk clock.PassiveClock, ttl time.Duration) *reviewer {
	return &reviewer{client: c, clock: clk, ttl: ttl, users: map[[32]byte]cachedUser{}, access: map[string]cachedAccess{}}
}

// authenticate returns the user of the request's bearer token. The scheme
// name is matched case-insensitively (RFC 9110 section 11.1), as the
// kube-apiserver does.
func (r *reviewer) authenticate(ctx context.Context, req *http.Request) (authnv1.UserInfo, error) {
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return authnv1.UserInfo{}, errUnauthenticated
	}
	key := sha256.Sum256([]byte(token))
	now := r.clock.Now()
	r.mu.Lock()
	c, hit := r.users[key]
	r.mu.Unlock()
	if hit && now.Before(c.expires) {
		if !c.ok {
			return authnv1.UserInfo{}, errUnauthenticated
		}
		return c.user, nil
	}
	review := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}
	if err := r.client.Create(ctx, review); err != nil {
		return authnv1.UserInfo{}, fmt.Errorf("token review: %w", err)
	}
	c = cachedUser{user: review.Status.User, ok: review.Status.Authenticated, expires: now.Add(r.ttl)}
	r.mu.Lock()
	if len(r.users) >= maxCached {
		clear(r.users)
	}
	r.users[key] = c
	r.mu.Unlock()
	if !c.ok {
		return authnv1.UserInfo{}, errUnauthenticated
	}
	return c.user, nil
}

// mayList asks whether user may list workflowruns in namespace.
func (r *reviewer) mayList(ctx context.Context, user authnv1.UserInfo, namespace string) (bool, error) {
	key := user.UID + "\x00" + user.Username + "\x00" + strings.Join(user.Groups, "\x00") + "\x00\x00" + namespace
	now := r.clock.Now()
	r.mu.Lock()
	c, hit := r.access[key]
	r.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.allowed, nil
	}
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range user.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: namespace, Verb: "list", Group: v1alpha1.GroupVersion.Group, Resource: "workflowruns",
		},
	}}
	if err := r.client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	r.mu.Lock()
	if len(r.access) >= maxCached {
		clear(r.access)
	}
	r.access[key] = cachedAccess{allowed: sar.Status.Allowed, expires: now.Add(r.ttl)}
	r.mu.Unlock()
	return sar.Status.Allowed, nil
}
