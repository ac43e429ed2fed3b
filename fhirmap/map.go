package fhirmap

import (
	"encoding/json"
	"time"
)

// Input is what Map reads: the documents of one patient as they arrived (prefetch values
// or FHIR fallback pages), each a Bundle or a single resource.
type Input struct {
	PatientID string            // the bare id from context.patientId
	At        time.Time         // the evaluation time; rules and ages use it, never the clock
	Documents []json.RawMessage // Bundles (any type) or single resources
}

// Map builds the Picture. It returns an error only when a document as a whole is not a
// FHIR resource (not a JSON object, no resourceType); a bad entry inside a Bundle becomes
// a Note and the rest is read.
//
// TODO(fhirmap): this is the contract stub; the mapping is being built.
func Map(in Input) (*Picture, error) {
	return &Picture{PatientID: in.PatientID, At: in.At, Extent: Extent{Status: ExtentUnknown}}, nil
}
