package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// countingGets is a client holding objs that counts its Get calls.
func countingGets(objs ...client.Object) (client.Client, *int) {
	gets := 0
	c := fake.NewClientBuilder().WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gets++
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	return c, &gets
}

func TestSecretReaderReusesWithinMaxAge(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hooks"}, Data: map[string][]byte{"url": []byte("v1")}}
	c, gets := countingGets(secret)
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	r := NewSecretReader(c, 10*time.Second, clk)

	read := func() string {
		t.Helper()
		data, err := r.Secret(ctx, "shop", "hooks")
		if err != nil {
			t.Fatal(err)
		}
		return string(data["url"])
	}
	if got := read(); got != "v1" || *gets != 1 {
		t.Fatalf("first read: %q after %d API reads, want v1 after 1", got, *gets)
	}
	secret.Data["url"] = []byte("v2")
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(clk.Now().Add(9 * time.Second))
	if got := read(); got != "v1" || *gets != 1 {
		t.Fatalf("read within MaxAge: %q after %d API reads, want the reused v1 after 1", got, *gets)
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if got := read(); got != "v2" || *gets != 2 {
		t.Fatalf("read at MaxAge: %q after %d API reads, want v2 read again (2)", got, *gets)
	}

	if _, err := r.Secret(ctx, "shop", "missing"); err == nil || !strings.Contains(err.Error(), "shop/missing") {
		t.Fatalf("missing Secret: err %v, want one naming shop/missing", err)
	}
	if _, err := r.Secret(ctx, "shop", "missing"); err == nil || *gets != 4 {
		t.Fatalf("a missing Secret is read again (not remembered): err %v, %d API reads, want 4", err, *gets)
	}
}

func TestSecretReaderWithoutMaxAgeReadsEveryTime(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hooks"}, Data: map[string][]byte{"url": []byte("v1")}}
	c, gets := countingGets(secret)
	r := &SecretReader{Reader: c}
	for range 3 {
		if _, err := r.Secret(context.Background(), "shop", "hooks"); err != nil {
			t.Fatal(err)
		}
	}
	if *gets != 3 {
		t.Fatalf("%d API reads for 3 reads without MaxAge, want 3", *gets)
	}
}
