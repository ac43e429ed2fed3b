package fhirmap

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/nencds/nencds/internal/fhirjson"
)

// DraftOrder is one order being selected or signed: an entry of the CDS Hooks
// order-select / order-sign context.draftOrders (docs/clinical.md §5). It is read like
// the record's own orders (the same drug matching as Therapy and OpenOrder, the same
// procedure recognition as Procedure), but it is not part of the Picture: the order
// checks compare it with the Picture.
type DraftOrder struct {
	// Ref is "MedicationRequest/<id>" or "ServiceRequest/<id>"; "" when the draft has
	// no id (it can then be named by its text only).
	Ref          string    `json:"ref,omitempty"`
	ResourceType string    `json:"resourceType"`
	Status       string    `json:"status,omitempty"`
	Date         time.Time `json:"date,omitzero"` // authoredOn
	// Drugs are the drug concepts (one of Drugs) a MedicationRequest names, matched as
	// a Therapy is (MatchedBy says how; Caveat CaveatUnverifiedCode for detection by an
	// unverified code).
	Drugs []DraftDrug `json:"drugs,omitempty"`
	// Codes are the codings of the medication or of the ServiceRequest code.
	Codes []Coding `json:"codes,omitempty"`
	// Kind is set on a ServiceRequest recognised as a procedure the rules know (PRRT,
	// liver-directed therapy, external beam radiotherapy, resection).
	Kind ProcedureKind `json:"kind,omitempty"`
	// Text names what is ordered as the client wrote it (code text or display, the
	// medicationReference display).
	Text string `json:"text,omitempty"`
	// Dose is the dosage as written: dosageInstruction text, else the doseAndRate
	// quantity and the timing code or frequency (as the CDS Hooks sandbox sends it).
	Dose string `json:"dose,omitempty"`
	// Unidentified: a MedicationRequest whose drug could not be identified (no drug
	// matched and no name to read: an unresolved medicationReference without display,
	// or a code nencds does not know without a display). It may be one of the drugs the
	// checks are about.
	Unidentified bool `json:"unidentified,omitempty"`
}

// DraftDrug is one drug a draft MedicationRequest names.
type DraftDrug struct {
	Drug      string `json:"drug"`
	MatchedBy string `json:"matchedBy"`
	Caveat    string `json:"caveat,omitempty"`
}

// draftResource is what is read of a draft: loosely, because order-entry clients send
// partial resources (the CDS Hooks sandbox's Rx View: no intent, the dose in
// dosageInstruction[].doseAndRate). Elements a check does not need are never required.
type draftResource struct {
	ResourceType              string                `json:"resourceType"`
	ID                        string                `json:"id"`
	Status                    string                `json:"status"`
	AuthoredOn                string                `json:"authoredOn"`
	MedicationCodeableConcept *fhir.CodeableConcept `json:"medicationCodeableConcept"`
	MedicationReference       *struct {
		Reference string `json:"reference"`
		Display   string `json:"display"`
	} `json:"medicationReference"`
	Code              *fhir.CodeableConcept `json:"code"`
	DosageInstruction []struct {
		Text   string `json:"text"`
		Timing *struct {
			Code   *fhir.CodeableConcept `json:"code"`
			Repeat *struct {
				Frequency  *int         `json:"frequency"`
				Period     *json.Number `json:"period"`
				PeriodUnit string       `json:"periodUnit"`
			} `json:"repeat"`
		} `json:"timing"`
		DoseAndRate []struct {
			DoseQuantity *struct {
				Value *json.Number `json:"value"`
				Unit  string       `json:"unit"`
				Code  string       `json:"code"`
			} `json:"doseQuantity"`
		} `json:"doseAndRate"`
	} `json:"dosageInstruction"`
}

// ReadDraftOrders reads the draft MedicationRequests and ServiceRequests of
// context.draftOrders (resources: each one resource, in entry order). medications are
// the Medication resources that came with them (entries of the same Bundle): a draft's
// medicationReference is resolved from its contained Medication, then from these, and
// last by the reference's display. A resource of another type is not a draft and is
// left out; one that cannot be decoded gives an error naming its position (the caller
// has checked the envelope).
func ReadDraftOrders(resources, medications []json.RawMessage) ([]DraftOrder, error) {
	meds := map[string]*fhir.CodeableConcept{}
	for _, raw := range medications {
		var med struct {
			ResourceType string                `json:"resourceType"`
			ID           string                `json:"id"`
			Code         *fhir.CodeableConcept `json:"code"`
		}
		if fhirjson.Unmarshal(raw, &med) == nil && med.ResourceType == "Medication" && med.ID != "" && med.Code != nil {
			meds["Medication/"+med.ID] = med.Code
		}
	}
	out := make([]DraftOrder, 0, len(resources))
	for i, raw := range resources {
		var r draftResource
		if err := fhirjson.Unmarshal(raw, &r); err != nil {
			return nil, &DraftError{Index: i, Problem: jsonProblem(err)}
		}
		d := DraftOrder{ResourceType: r.ResourceType, Status: strings.TrimSpace(r.Status)}
		if r.ID != "" {
			d.Ref = r.ResourceType + "/" + r.ID
		}
		if t, ok := parseDate(r.AuthoredOn); ok {
			d.Date = t
		}
		switch r.ResourceType {
		case "MedicationRequest":
			cc := r.MedicationCodeableConcept
			if cc != nil && len(cc.Coding) == 0 && cc.Text == nil {
				cc = nil
			}
			display := ""
			if mr := r.MedicationReference; mr != nil {
				display = mr.Display
				ref := normRef(mr.Reference)
				if cc == nil {
					cc = containedMedication(raw, ref)
				}
				if cc == nil {
					cc = meds[ref]
				}
			}
			for _, t := range matchDrugs(cc, strings.ToLower(display)) {
				d.Drugs = append(d.Drugs, DraftDrug{Drug: t.Drug, MatchedBy: t.MatchedBy, Caveat: t.Caveat})
			}
			d.Codes = allCodings(cc)
			d.Text = ccText(cc)
			if d.Text == "" {
				d.Text = display
			}
			d.Dose = r.dose()
			d.Unidentified = len(d.Drugs) == 0 && strings.TrimSpace(ccWords(cc)) == "" && strings.TrimSpace(display) == ""
		case "ServiceRequest":
			kind, _, ok := procedureKind(r.Code, nil)
			if ok {
				d.Kind = kind
			}
			d.Codes = allCodings(r.Code)
			d.Text = ccText(r.Code)
		default:
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// DraftError is a draft order that could not be decoded: Index is its position among
// the resources given to ReadDraftOrders. The problem never quotes the data.
type DraftError struct {
	Index   int
	Problem string
}

func (e *DraftError) Error() string {
	return "draft order " + strconv.Itoa(e.Index) + " could not be read: " + e.Problem
}

// dose is the dosage as written: the first instruction's text, else its doseAndRate
// quantity with the timing code text or frequency.
func (r draftResource) dose() string {
	for _, di := range r.DosageInstruction {
		if t := strings.TrimSpace(di.Text); t != "" {
			return t
		}
		var parts []string
		for _, dr := range di.DoseAndRate {
			if q := dr.DoseQuantity; q != nil && q.Value != nil {
				unit := q.Unit
				if unit == "" {
					unit = q.Code
				}
				parts = append(parts, strings.TrimSpace(q.Value.String()+" "+unit))
				break
			}
		}
		if tm := di.Timing; tm != nil {
			if s := ccText(tm.Code); s != "" {
				parts = append(parts, s)
			} else if rp := tm.Repeat; rp != nil && rp.Frequency != nil && rp.Period != nil && rp.PeriodUnit != "" {
				parts = append(parts, strconv.Itoa(*rp.Frequency)+" per "+rp.Period.String()+" "+rp.PeriodUnit)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, ", ")
		}
	}
	return ""
}
