package request

import (
	"errors"
	"io"
	"net"
	"net/http"
)

// ReadBody reads the whole body of r, refusing with 413 when it is longer
// than limit bytes. It never reads more than limit+1 bytes, so a hostile
// sender cannot make the receiver buffer more than that.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge,
			"request body is %d bytes; the limit is %d bytes", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errorf(http.StatusRequestEntityTooLarge,
				"request body is longer than the limit of %d bytes", limit)
		}
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return nil, errorf(http.StatusRequestTimeout, "the request body did not arrive in time: %v", err)
		}
		return nil, errorf(http.StatusBadRequest, "read request body: %v", err)
	}
	return body, nil
}
