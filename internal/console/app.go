package console

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// app serves the embedded single-page app: hashed files under /assets/ are
// cached for good, index.html never (it names the current hashes).
func (s *Server) app(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" || !strings.HasPrefix(name, "assets/") {
		name = "index.html" // the app routes with the URL fragment; every other path is the app
	}
	body, err := fs.ReadFile(s.assets, name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && name == "index.html":
		http.Error(w, "the console's web assets are not built into this binary: run `make console` (or make build) and rebuild", http.StatusServiceUnavailable)
		return
	case err != nil:
		http.NotFound(w, r)
		return
	}
	if name == "index.html" {
		w.Header().Set("Cache-Control", "no-store")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	http.ServeContent(w, r, name, time.Time{}, strings.NewReader(string(body)))
}
