package runner

// The suite builds its workflows and events with test/fixture.

// obj is shorthand for JSON objects in test data.
type obj = map[string]any
