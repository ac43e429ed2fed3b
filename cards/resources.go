package cards

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Draft FHIR R4 resources are hand-built structs rather than the samply types: every
// field is omitempty, a choice element has exactly one variant by construction, and
// nothing is written that the rules did not set (the samply MedicationRequest writes
// an empty medicationReference and its Task every value[x]). resources_test.go checks
// every emitted resource for empties, nulls and choice variants, and against the
// official FHIR R4 JSON schema when NENCDS_FHIR_SCHEMA is set.

// OrderSystem is the project's code system for orders that have no standard code in
// codes.csv (referrals and reviews). Its codes are listed in docs/rules.md.
const OrderSystem = "https://github.com/nencds/nencds/CodeSystem/order"

// Project order codes (OrderSystem).
const (
	OrderPathologyReview     = "pathology-review"
	OrderMDTReview           = "mdt-review"
	OrderSurgicalPrimary     = "surgical-oncology-referral-primary"
	OrderSurgicalLiver       = "surgical-oncology-referral-liver"
	OrderCardiologyReview    = "cardiology-review"
	OrderFollowUpVisit       = "follow-up-visit"
	OrderDoseReviewCardiac   = "dose-review-cardiac"
	RxNormSystem             = "http://www.nlm.nih.gov/research/umls/rxnorm"
	draftStatus              = "draft"
	proposalIntent           = "proposal"
	taskRequestedStatus      = "requested"
	groupIdentifierURISystem = "urn:ietf:rfc:3986"
)

type fhirCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type fhirCodeableConcept struct {
	Coding []fhirCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type fhirReference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

type fhirIdentifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type fhirPeriod struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type fhirAnnotation struct {
	Text string `json:"text"`
}

type fhirDosage struct {
	Text string `json:"text,omitempty"`
}

// medicationRequest is a draft MedicationRequest: medication[x] is always
// medicationCodeableConcept (the only variant this type has).
type medicationRequest struct {
	ResourceType              string              `json:"resourceType"`
	Status                    string              `json:"status"`
	Intent                    string              `json:"intent"`
	GroupIdentifier           *fhirIdentifier     `json:"groupIdentifier,omitempty"`
	MedicationCodeableConcept fhirCodeableConcept `json:"medicationCodeableConcept"`
	Subject                   fhirReference       `json:"subject"`
	AuthoredOn                string              `json:"authoredOn,omitempty"`
	ReasonReference           []fhirReference     `json:"reasonReference,omitempty"`
	Note                      []fhirAnnotation    `json:"note,omitempty"`
	DosageInstruction         []fhirDosage        `json:"dosageInstruction,omitempty"`
}

type serviceRequest struct {
	ResourceType    string              `json:"resourceType"`
	Status          string              `json:"status"`
	Intent          string              `json:"intent"`
	Code            fhirCodeableConcept `json:"code"`
	Subject         fhirReference       `json:"subject"`
	AuthoredOn      string              `json:"authoredOn,omitempty"`
	ReasonReference []fhirReference     `json:"reasonReference,omitempty"`
	Note            []fhirAnnotation    `json:"note,omitempty"`
}

type taskRestriction struct {
	Repetitions int         `json:"repetitions,omitempty"`
	Period      *fhirPeriod `json:"period,omitempty"`
}

type task struct {
	ResourceType string               `json:"resourceType"`
	Status       string               `json:"status"`
	Intent       string               `json:"intent"`
	Code         *fhirCodeableConcept `json:"code,omitempty"`
	Description  string               `json:"description,omitempty"`
	For          fhirReference        `json:"for"`
	AuthoredOn   string               `json:"authoredOn,omitempty"`
	ReasonRef    *fhirReference       `json:"reasonReference,omitempty"`
	Restriction  *taskRestriction     `json:"restriction,omitempty"`
}

// drug is a drug concept of codes.csv with its RxNorm coding and dosage text.
type drug struct {
	Concept string
	Coding  *fhirCoding // nil when codes.csv has no verified code yet
	Name    string
	Dosage  string
}

// uncodedDrugs holds the dosage text of the codes.csv rows whose code column is still
// empty (fhirmap leaves such rows out of its list). A row here is used only while
// fhirmap.ByConcept finds nothing for the concept; it mirrors codes.csv word for word.
var uncodedDrugs = map[string]drug{
	"lanreotide": {Concept: "lanreotide", Name: "lanreotide", Dosage: "120 mg deep SC every 4 weeks"},
}

// drugOf returns the drug of a codes.csv concept: RxNorm coding, name, and the dosage
// text (the note up to its first ";", which starts the caveats).
func drugOf(concept string) drug {
	for _, c := range fhirmap.ByConcept(concept) {
		if c.System != RxNormSystem {
			continue
		}
		dosage, _, _ := strings.Cut(c.Note, ";")
		return drug{Concept: concept, Coding: &fhirCoding{System: c.System, Code: c.Code, Display: c.Display}, Name: c.Display, Dosage: strings.TrimSpace(dosage)}
	}
	if d, ok := uncodedDrugs[concept]; ok {
		return d
	}
	return drug{Concept: concept, Name: concept}
}

// codingsOf returns the codings of the given codes.csv concepts, in order.
func codingsOf(concepts ...string) []fhirCoding {
	var out []fhirCoding
	for _, concept := range concepts {
		for _, c := range fhirmap.ByConcept(concept) {
			if c.Prefix() {
				continue
			}
			out = append(out, fhirCoding{System: c.System, Code: c.Code, Display: c.Display})
		}
	}
	return out
}

// orderCoding is a project order code (OrderSystem).
func orderCoding(code, display string) fhirCoding {
	return fhirCoding{System: OrderSystem, Code: code, Display: display}
}

func fhirDate(t time.Time) string { return t.UTC().Format("2006-01-02") }

func fhirDateTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// drafts builds the draft resources of one evaluation: subject, reason and time.
type drafts struct {
	patient string // "Patient/<id>"
	reason  string // reference of the NEN Condition, "" when there is none
	at      time.Time
	newID   func() string
}

func (d drafts) reasons() []fhirReference {
	if d.reason == "" {
		return nil
	}
	return []fhirReference{{Reference: d.reason}}
}

// medication is a draft MedicationRequest for a drug; group, when not empty, is the
// groupIdentifier value shared by the drugs of one regimen.
func (d drafts) medication(dr drug, group, note string) Action {
	cc := fhirCodeableConcept{Text: dr.Name}
	if dr.Coding != nil {
		cc.Coding = []fhirCoding{*dr.Coding}
	}
	mr := medicationRequest{
		ResourceType:              "MedicationRequest",
		Status:                    draftStatus,
		Intent:                    proposalIntent,
		MedicationCodeableConcept: cc,
		Subject:                   fhirReference{Reference: d.patient},
		AuthoredOn:                fhirDateTime(d.at),
		ReasonReference:           d.reasons(),
	}
	if group != "" {
		mr.GroupIdentifier = &fhirIdentifier{System: groupIdentifierURISystem, Value: "urn:uuid:" + group}
	}
	if dr.Dosage != "" {
		mr.DosageInstruction = []fhirDosage{{Text: dr.Dosage}}
	}
	if note != "" {
		mr.Note = []fhirAnnotation{{Text: note}}
	}
	desc := "Draft order: " + dr.Name
	if dr.Dosage != "" {
		desc += ", " + dr.Dosage
	}
	return Action{Type: "create", Description: desc, Resource: mustJSON(mr)}
}

// service is a draft ServiceRequest coded with codings and named by text.
func (d drafts) service(codings []fhirCoding, text, description string) Action {
	sr := serviceRequest{
		ResourceType:    "ServiceRequest",
		Status:          draftStatus,
		Intent:          proposalIntent,
		Code:            fhirCodeableConcept{Coding: codings, Text: text},
		Subject:         fhirReference{Reference: d.patient},
		AuthoredOn:      fhirDateTime(d.at),
		ReasonReference: d.reasons(),
	}
	return Action{Type: "create", Description: description, Resource: mustJSON(sr)}
}

// monitoringTask is a draft Task due within [at, at+dueDays]; repetitions > 1 marks a
// recurring task (every intervalText).
func (d drafts) monitoringTask(codings []fhirCoding, text, description string, dueDays, repetitions int) Action {
	t := task{
		ResourceType: "Task",
		Status:       taskRequestedStatus,
		Intent:       proposalIntent,
		Description:  description,
		For:          fhirReference{Reference: d.patient},
		AuthoredOn:   fhirDateTime(d.at),
		Restriction: &taskRestriction{
			Period: &fhirPeriod{Start: fhirDate(d.at), End: fhirDate(d.at.AddDate(0, 0, dueDays))},
		},
	}
	if len(codings) > 0 || text != "" {
		t.Code = &fhirCodeableConcept{Coding: codings, Text: text}
	}
	if repetitions > 1 {
		t.Restriction.Repetitions = repetitions
	}
	if d.reason != "" {
		t.ReasonRef = &fhirReference{Reference: d.reason}
	}
	return Action{Type: "create", Description: "Draft task: " + description, Resource: mustJSON(t)}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings and ints are marshalled here.
		panic(fmt.Sprintf("cards: marshal draft resource: %v", err))
	}
	return b
}
