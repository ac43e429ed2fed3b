package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/internal/fhirjson"
)

// The order-time services (docs/clinical.md §5): the same prefetch, fallback, 412, CORS
// and JWT rules as patient-view; the checks read context.draftOrders.
const (
	OrderSelectID   = "nen-order-select"
	OrderSignID     = "nen-order-sign"
	HookOrderSelect = "order-select"
	HookOrderSign   = "order-sign"
)

const orderUsage = "Send context.draftOrders (a Bundle of the draft MedicationRequest and ServiceRequest resources) " +
	"and the prefetch (a Bundle or null per key) or a fhirServer with a patient-scoped access token, as for patient-view."

// OrderSelect returns the order-select service: only critical checks answer.
func OrderSelect() Service {
	return Service{
		Hook:  HookOrderSelect,
		ID:    OrderSelectID,
		Title: "Neuroendocrine neoplasm (NET/NEC) order checks: selection",
		Description: "Checks the selected draft orders against the patient's neuroendocrine neoplasm " +
			"(NEC vs NET treatments, PRRT eligibility) and answers only with critical problems while the order is composed.",
		Prefetch:          PrefetchTemplates(),
		UsageRequirements: orderUsage,
	}
}

// OrderSign returns the order-sign service: every order check answers.
func OrderSign() Service {
	return Service{
		Hook:  HookOrderSign,
		ID:    OrderSignID,
		Title: "Neuroendocrine neoplasm (NET/NEC) order checks: signing",
		Description: "Checks the draft orders being signed against the patient's neuroendocrine neoplasm: " +
			"treatments of the other branch, PRRT eligibility and wash-out, baseline tests (LVEF, liver, glucose, lipids), " +
			"drugs already taken or ordered, chemotherapy with a poor performance status.",
		Prefetch:          PrefetchTemplates(),
		UsageRequirements: orderUsage,
	}
}

// ServiceForHook returns the service that answers hook.
func ServiceForHook(hook string) (Service, bool) {
	for _, s := range Services() {
		if s.Hook == hook {
			return s, true
		}
	}
	return Service{}, false
}

func isOrderHook(hook string) bool { return hook == HookOrderSelect || hook == HookOrderSign }

// validateOrders decodes and checks the order context of an order-select or order-sign
// request into req.Orders. Loose clients are read as they are: a Bundle without type, a
// MedicationRequest without intent, a dose in doseAndRate; only what the checks cannot
// do without is refused (KindInvalid, naming the field).
func (req *Request) validateOrders(svc Service) error {
	var ctx struct {
		DraftOrders json.RawMessage `json:"draftOrders"`
		Selections  json.RawMessage `json:"selections"`
	}
	if err := fhirjson.Unmarshal(req.Context, &ctx); err != nil {
		return Errorf(KindInvalid, "context must be an object")
	}
	dr := bytes.TrimSpace(ctx.DraftOrders)
	if len(dr) == 0 || bytes.Equal(dr, []byte("null")) {
		return Errorf(KindInvalid, "context.draftOrders is required: a Bundle of the draft MedicationRequest and ServiceRequest resources")
	}
	bundle, err := fhirjson.ReadDocument(dr)
	if err != nil || bundle.ResourceType != "Bundle" {
		return Errorf(KindInvalid, "context.draftOrders must be a FHIR Bundle (resourceType \"Bundle\")")
	}
	if bundle.Problem != "" {
		return Errorf(KindInvalid, "context.draftOrders.entry must be an array")
	}
	pid := req.PatientView.PatientID
	var drafts, meds []json.RawMessage
	var where []int // entry index of each draft
	for i, e := range bundle.Entries {
		switch {
		case e.Problem == "the entry is not an object":
			return Errorf(KindInvalid, "context.draftOrders.entry[%d] must be an object with a resource", i)
		case e.Problem != "":
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource must be a FHIR resource (an object with a resourceType)", i)
		case e.Resource == nil:
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource is required", i)
		case e.Resource.ResourceType == "":
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource must be a FHIR resource (an object with a resourceType)", i)
		}
		res := e.Resource
		switch res.ResourceType {
		case "MedicationRequest", "ServiceRequest":
		case "Medication":
			// A Medication that a draft's medicationReference names.
			meds = append(meds, res.Raw)
			continue
		default:
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource is a %s: draft orders are MedicationRequest or ServiceRequest", i, res.ResourceType)
		}
		if res.ID != "" && (!fhirID.MatchString(res.ID) || strings.Trim(res.ID, ".") == "") {
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource.id is not a FHIR id", i)
		}
		var head struct {
			Subject *struct {
				Reference string `json:"reference"`
			} `json:"subject"`
		}
		if fhirjson.Unmarshal(res.Raw, &head) != nil {
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource must be a FHIR resource (an object with a resourceType)", i)
		}
		if head.Subject != nil && otherPatient(head.Subject.Reference, pid) {
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource.subject names another patient than context.patientId", i)
		}
		drafts = append(drafts, res.Raw)
		where = append(where, i)
	}
	read, err := fhirmap.ReadDraftOrders(drafts, meds)
	if err != nil {
		var de *fhirmap.DraftError
		if errors.As(err, &de) {
			return Errorf(KindInvalid, "context.draftOrders.entry[%d].resource could not be read: %s", where[de.Index], de.Problem)
		}
		return Errorf(KindInvalid, "context.draftOrders could not be read")
	}
	o := &cards.Orders{Drafts: read, CriticalOnly: svc.Hook == HookOrderSelect}
	if svc.Hook == HookOrderSelect {
		sel := bytes.TrimSpace(ctx.Selections)
		if len(sel) > 0 && !bytes.Equal(sel, []byte("null")) {
			var items []string
			if sel[0] != '[' || fhirjson.Unmarshal(sel, &items) != nil {
				return Errorf(KindInvalid, "context.selections must be an array of references (Type/id)")
			}
			for i, s := range items {
				if !hasDraft(read, s) {
					return Errorf(KindInvalid, "context.selections[%d] is not a draft order in context.draftOrders (expected Type/id)", i)
				}
				o.Selected = append(o.Selected, strings.TrimSpace(s))
			}
		}
	}
	req.Orders = o
	return nil
}

func hasDraft(drafts []fhirmap.DraftOrder, ref string) bool {
	ref = strings.TrimSpace(ref)
	for _, d := range drafts {
		if d.Ref != "" && d.Ref == ref {
			return true
		}
	}
	return false
}

// otherPatient reports whether a subject reference names a Patient other than pid
// (relative "Patient/x" or absolute ".../Patient/x", a version suffix allowed). Other
// forms (urn:uuid, contained, a display only) name no one in particular: accepted.
func otherPatient(ref, pid string) bool {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return false
	}
	id := ref[i+len("Patient/"):]
	return id != "" && id != pid
}
