package fhirjson

// The -update flag of `go test ./... -update` (internal/golden).
import _ "github.com/nencds/nencds/internal/golden"
