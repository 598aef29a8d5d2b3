package console

import (
	"context"
	"fmt"

	authnv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// whoAmI asks the API server who c authenticates as (a SelfSubjectReview),
// which also proves that a token is valid.
func whoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authnv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("check the token: %w", err)
	}
	return review.Status.UserInfo.Username, nil
}
