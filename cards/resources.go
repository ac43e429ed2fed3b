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
	OrderPathologyReview   = "pathology-review"
	OrderMDTReview         = "mdt-review"
	OrderSurgicalPrimary   = "surgical-oncology-referral-primary"
	OrderSurgicalLiver     = "surgical-oncology-referral-liver"
	OrderCardiologyReview  = "cardiology-review"
	OrderFollowUpVisit     = "follow-up-visit"
	OrderDoseReviewCardiac = "dose-review-cardiac"
	RxNormSystem           = "http://www.nlm.nih.gov/research/umls/rxnorm"
	draftStatus            = "draft"
	proposalIntent         = "proposal"
	// taskDraftStatus: a monitoring Task is a draft too (principle 8: nothing is
	// auto-applied); "draft" is in the R4 Task status value set.
	taskDraftStatus          = "draft"
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
	// Coding is the RxNorm ingredient coding, set only when codes.csv marks the code
	// verified: an order never carries an unverified code.
	Coding *fhirCoding
	// Unverified is the codes.csv code that exists but is not verified yet ("" when
	// there is none or it is verified); the card says the draft names the drug in text.
	Unverified string
	// RxNorm: codes.csv lists the drug with an RxNorm row (coded or not yet); false for
	// a concept ordered otherwise (lutathera: a referral, HCPCS-coded).
	RxNorm bool
	Name   string
	Dosage string
}

// drugOf returns the drug of a codes.csv concept: RxNorm coding (verified rows only),
// name, and the dosage text (the note up to its first ";", which starts the caveats).
// A row with no code yet (lanreotide) or an unverified one (octreotide) still gives the
// reviewed name and dosage text: the draft then names the drug in text only.
func drugOf(concept string) drug {
	for _, c := range fhirmap.ByConcept(concept) {
		if c.System != RxNormSystem {
			continue
		}
		dosage, _, _ := strings.Cut(c.Note, ";")
		d := drug{Concept: concept, RxNorm: true, Name: c.Display, Dosage: strings.TrimSpace(dosage)}
		if d.Name == "" {
			d.Name = concept
		}
		if c.Verified() {
			d.Coding = &fhirCoding{System: c.System, Code: c.Code, Display: c.Display}
		} else {
			d.Unverified = c.Code
		}
		return d
	}
	return drug{Concept: concept, Name: concept}
}

// uncodedNote is the warning a card adds for each drug whose draft carries no verified
// code: said for the clinician (what the missing code means at signing), never about
// the project's code list.
func uncodedNote(concepts ...string) string {
	var names []string
	for _, c := range concepts {
		d := drugOf(c)
		if d.Coding != nil || !d.RxNorm {
			continue
		}
		names = append(names, d.Name)
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "**The " + names[0] + " draft names the drug by name only, without a drug code: the EHR may not run its interaction and allergy checks on it. Check them before signing.**"
	}
	return "**The " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] +
		" drafts name the drug by name only, without a drug code: the EHR may not run its interaction and allergy checks on them. Check them before signing.**"
}

// codingsOf returns the codings of the given codes.csv concepts, in order.
func codingsOf(concepts ...string) []fhirCoding {
	n := 0
	for _, concept := range concepts {
		n += len(fhirmap.ByConcept(concept))
	}
	out := make([]fhirCoding, 0, n)
	for _, concept := range concepts {
		for _, c := range fhirmap.ByConcept(concept) {
			if c.Prefix() || c.Code == "" {
				continue
			}
			out = append(out, fhirCoding{System: c.System, Code: c.Code, Display: c.Display})
		}
	}
	if len(out) == 0 {
		return nil // as when the list was grown by append
	}
	return out
}

// orderable keeps the codings a draft order may carry: project order codes
// (OrderSystem) and codes.csv rows marked verified. Every draft resource goes through
// it, so an unverified code never reaches an order whatever a rule passes in; the
// order's text still names what is meant.
func orderable(codings []fhirCoding) []fhirCoding {
	var out []fhirCoding
	for _, c := range codings {
		if c.System == OrderSystem && c.Code != "" {
			out = append(out, c)
			continue
		}
		if row, ok := fhirmap.Lookup(c.System, c.Code); ok && !row.Prefix() && row.Verified() {
			out = append(out, c)
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
		cc.Coding = orderable([]fhirCoding{*dr.Coding})
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
		Code:            fhirCodeableConcept{Coding: orderable(codings), Text: text},
		Subject:         fhirReference{Reference: d.patient},
		AuthoredOn:      fhirDateTime(d.at),
		ReasonReference: d.reasons(),
	}
	return Action{Type: "create", Description: description, Resource: mustJSON(sr)}
}

// monitoringTask is a one-off draft Task due within [at, at+dueDays].
func (d drafts) monitoringTask(codings []fhirCoding, text, description string, dueDays int) Action {
	return d.task(codings, text, description, d.at.AddDate(0, 0, dueDays), 0)
}

// every is the interval of a recurring Task: N days or N months.
type every struct {
	N      int
	Months bool
}

func (v every) String() string {
	unit := "days"
	if v.Months {
		unit = "months"
	}
	return fmt.Sprintf("every %d %s", v.N, unit)
}

// after is k intervals after t.
func (v every) after(t time.Time, k int) time.Time {
	if v.Months {
		return t.AddDate(0, v.N*k, 0)
	}
	return t.AddDate(0, 0, v.N*k)
}

// occurrences is how many whole intervals fit between t and t + horizonMonths.
func (v every) occurrences(t time.Time, horizonMonths int) int {
	end := t.AddDate(0, horizonMonths, 0)
	k := 0
	for v.N > 0 && !v.after(t, k+1).After(end) {
		k++
	}
	return k
}

// recurringTask is a draft Task repeated at the interval v over the planning horizon:
// restriction.repetitions is the number of occurrences and restriction.period spans
// exactly them (every 3 months over 12 months: 4 repetitions, 12 months). The
// description must name the interval ("every 3 months"): Card.Validate checks that
// repetitions, period and interval agree.
func (d drafts) recurringTask(codings []fhirCoding, text, description string, v every, horizonMonths int) Action {
	n := max(v.occurrences(d.at, horizonMonths), 1)
	return d.task(codings, text, description, v.after(d.at, n), n)
}

func (d drafts) task(codings []fhirCoding, text, description string, due time.Time, repetitions int) Action {
	t := task{
		ResourceType: "Task",
		Status:       taskDraftStatus,
		Intent:       proposalIntent,
		Description:  description,
		For:          fhirReference{Reference: d.patient},
		AuthoredOn:   fhirDateTime(d.at),
		Restriction: &taskRestriction{
			Period: &fhirPeriod{Start: fhirDate(d.at), End: fhirDate(due)},
		},
	}
	if codings = orderable(codings); len(codings) > 0 || text != "" {
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
