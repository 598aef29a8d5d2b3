package console

import (
	"embed"
	"io/fs"
)

// dist holds the built single-page app (web/console → `make console`). The
// directory is committed with only a .gitkeep so that a fresh clone compiles;
// the server answers 503 with how to build it when index.html is missing.
//
//go:embed all:dist
var dist embed.FS

// assets returns the embedded app's files rooted at dist/.
func assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // cannot happen: "dist" is a valid, embedded path
		panic(err)
	}
	return sub
}
