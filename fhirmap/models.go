package fhirmap

import "github.com/samply/golang-fhir-models/fhir-models/fhir"

// The resources that Map reads most are decoded into these models rather than samply's
// full ones: the elements the rules read, with samply's field names and datatypes, so that
// decoding skips the rest (docs/clinical.md §2 lists what is read). An element that is
// not read is not checked either: a malformed one cannot sink a resource whose read
// elements are sound. Status is never decoded: the reader checks the raw one
// (fhirjson.Document.Status).

// observation is the part of an Observation that fhirmap reads.
type observation struct {
	Code                 fhir.CodeableConcept             `json:"code"`
	Subject              *fhir.Reference                  `json:"subject,omitempty"`
	Focus                []fhir.Reference                 `json:"focus,omitempty"`
	EffectiveDateTime    *string                          `json:"effectiveDateTime,omitempty"`
	EffectivePeriod      *fhir.Period                     `json:"effectivePeriod,omitempty"`
	EffectiveInstant     *string                          `json:"effectiveInstant,omitempty"`
	Issued               *string                          `json:"issued,omitempty"`
	ValueQuantity        *fhir.Quantity                   `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *fhir.CodeableConcept            `json:"valueCodeableConcept,omitempty"`
	ValueString          *string                          `json:"valueString,omitempty"`
	ValueInteger         *int                             `json:"valueInteger,omitempty"`
	Interpretation       []fhir.CodeableConcept           `json:"interpretation,omitempty"`
	Specimen             *fhir.Reference                  `json:"specimen,omitempty"`
	ReferenceRange       []fhir.ObservationReferenceRange `json:"referenceRange,omitempty"`
	Component            []observationComponent           `json:"component,omitempty"`
}

// observationComponent is the part of an Observation.component that fhirmap reads.
type observationComponent struct {
	Code                 fhir.CodeableConcept             `json:"code"`
	ValueQuantity        *fhir.Quantity                   `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *fhir.CodeableConcept            `json:"valueCodeableConcept,omitempty"`
	ValueString          *string                          `json:"valueString,omitempty"`
	ValueInteger         *int                             `json:"valueInteger,omitempty"`
	Interpretation       []fhir.CodeableConcept           `json:"interpretation,omitempty"`
	ReferenceRange       []fhir.ObservationReferenceRange `json:"referenceRange,omitempty"`
}

// diagnosticReport is the part of a DiagnosticReport that fhirmap reads.
type diagnosticReport struct {
	Code              fhir.CodeableConcept   `json:"code"`
	Subject           *fhir.Reference        `json:"subject,omitempty"`
	EffectiveDateTime *string                `json:"effectiveDateTime,omitempty"`
	EffectivePeriod   *fhir.Period           `json:"effectivePeriod,omitempty"`
	Issued            *string                `json:"issued,omitempty"`
	Specimen          []fhir.Reference       `json:"specimen,omitempty"`
	Result            []fhir.Reference       `json:"result,omitempty"`
	Conclusion        *string                `json:"conclusion,omitempty"`
	ConclusionCode    []fhir.CodeableConcept `json:"conclusionCode,omitempty"`
}

// condition is the part of a Condition that fhirmap reads.
type condition struct {
	Meta               *fhir.Meta             `json:"meta,omitempty"`
	Extension          []fhir.Extension       `json:"extension,omitempty"`
	ClinicalStatus     *fhir.CodeableConcept  `json:"clinicalStatus,omitempty"`
	VerificationStatus *fhir.CodeableConcept  `json:"verificationStatus,omitempty"`
	Category           []fhir.CodeableConcept `json:"category,omitempty"`
	Code               *fhir.CodeableConcept  `json:"code,omitempty"`
	BodySite           []fhir.CodeableConcept `json:"bodySite,omitempty"`
	Subject            fhir.Reference         `json:"subject"`
	OnsetDateTime      *string                `json:"onsetDateTime,omitempty"`
	OnsetPeriod        *fhir.Period           `json:"onsetPeriod,omitempty"`
	AbatementDateTime  *string                `json:"abatementDateTime,omitempty"`
	AbatementPeriod    *fhir.Period           `json:"abatementPeriod,omitempty"`
	RecordedDate       *string                `json:"recordedDate,omitempty"`
	Stage              []fhir.ConditionStage  `json:"stage,omitempty"`
	Note               []fhir.Annotation      `json:"note,omitempty"`
}

// procedure is the part of a Procedure that fhirmap reads.
type procedure struct {
	Code              *fhir.CodeableConcept  `json:"code,omitempty"`
	Subject           fhir.Reference         `json:"subject"`
	PerformedDateTime *string                `json:"performedDateTime,omitempty"`
	PerformedPeriod   *fhir.Period           `json:"performedPeriod,omitempty"`
	ReasonReference   []fhir.Reference       `json:"reasonReference,omitempty"`
	BodySite          []fhir.CodeableConcept `json:"bodySite,omitempty"`
	UsedCode          []fhir.CodeableConcept `json:"usedCode,omitempty"`
}

// serviceRequest is the part of a ServiceRequest that fhirmap reads.
type serviceRequest struct {
	Code               *fhir.CodeableConcept `json:"code,omitempty"`
	Subject            fhir.Reference        `json:"subject"`
	OccurrenceDateTime *string               `json:"occurrenceDateTime,omitempty"`
	OccurrencePeriod   *fhir.Period          `json:"occurrencePeriod,omitempty"`
	AuthoredOn         *string               `json:"authoredOn,omitempty"`
}

// task is the part of a Task that fhirmap reads.
type task struct {
	Code            *fhir.CodeableConcept `json:"code,omitempty"`
	Description     *string               `json:"description,omitempty"`
	For             *fhir.Reference       `json:"for,omitempty"`
	ExecutionPeriod *fhir.Period          `json:"executionPeriod,omitempty"`
	AuthoredOn      *string               `json:"authoredOn,omitempty"`
}
