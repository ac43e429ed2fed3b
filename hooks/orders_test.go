package hooks

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks/auth"
)

// orderFixture reads testdata/requests/<name>.json.
func orderFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/requests/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editOrder decodes a fixture, applies f to it as a map, and encodes it again.
func editOrder(t testing.TB, name string, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(orderFixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctxOf(m map[string]any) map[string]any { return m["context"].(map[string]any) }

func draftEntries(m map[string]any) []any {
	return ctxOf(m)["draftOrders"].(map[string]any)["entry"].([]any)
}

func TestOrderDiscovery(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testOptions(t, nil, nil))
	w := do(s.Handler(), http.MethodGet, "/cds-services", nil, nil)
	var d Discovery
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	byID := map[string]Service{}
	for _, svc := range d.Services {
		byID[svc.ID] = svc
	}
	pv := byID[PatientViewID]
	for id, hook := range map[string]string{OrderSelectID: "order-select", OrderSignID: "order-sign"} {
		svc, ok := byID[id]
		if !ok {
			t.Fatalf("discovery lacks %s: %s", id, w.Body)
		}
		if svc.Hook != hook || svc.Description == "" {
			t.Errorf("%s: hook %q description %q", id, svc.Hook, svc.Description)
		}
		if diff := cmp.Diff(pv.Prefetch, svc.Prefetch); diff != "" {
			t.Errorf("%s prefetch differs from patient-view:\n%s", id, diff)
		}
	}
}

// TestOrderAudiencesAndCORS: each order endpoint is its own JWT aud; a browser
// preflight to it allows the Authorization header, as for patient-view.
func TestOrderAudiencesAndCORS(t *testing.T) {
	t.Parallel()
	fa := &fakeAuth{}
	o := testOptions(t, fa, nil)
	o.CORSOrigins = []string{"https://sandbox.cds-hooks.org"}
	s := newTestServer(t, o)
	for id, fixture := range map[string]string{OrderSelectID: "order-select-nec-everolimus-sandbox", OrderSignID: "order-sign-nec-everolimus-sandbox"} {
		w := do(s.Handler(), http.MethodPost, "/cds-services/"+id, orderFixture(t, fixture), map[string]string{"Origin": "https://sandbox.cds-hooks.org"})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", id, w.Code, w.Body)
		}
		if got, want := fa.lastAud(), testPublicURL+"/cds-services/"+id; got != want {
			t.Errorf("aud %q, want %q", got, want)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "https://sandbox.cds-hooks.org" {
			t.Errorf("%s: no CORS header", id)
		}
		pre := do(s.Handler(), http.MethodOptions, "/cds-services/"+id, nil, map[string]string{"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST", "Authorization": ""})
		if pre.Code != http.StatusNoContent || !strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("%s preflight: %d %v", id, pre.Code, pre.Header())
		}
		bad := do(s.Handler(), http.MethodPost, "/cds-services/"+id, orderFixture(t, fixture), map[string]string{"Authorization": "Bearer bad"})
		if bad.Code != http.StatusUnauthorized {
			t.Errorf("%s without a good JWT: %d", id, bad.Code)
		}
	}
}

// TestOrderBadInput: what the checks cannot do without is refused with 400 and an
// OperationOutcome naming the field.
func TestOrderBadInput(t *testing.T) {
	t.Parallel()
	const sandbox = "order-select-nec-everolimus-sandbox"
	tests := []struct {
		name    string
		service string
		edit    func(m map[string]any)
		want    string
	}{
		{"draftOrders missing", OrderSignID, func(m map[string]any) { delete(ctxOf(m), "draftOrders") }, "context.draftOrders is required"},
		{"draftOrders null", OrderSignID, func(m map[string]any) { ctxOf(m)["draftOrders"] = nil }, "context.draftOrders is required"},
		{"draftOrders an array", OrderSignID, func(m map[string]any) { ctxOf(m)["draftOrders"] = []any{} }, "context.draftOrders must be a FHIR Bundle"},
		{"draftOrders a MedicationRequest", OrderSignID, func(m map[string]any) {
			ctxOf(m)["draftOrders"] = draftEntries(m)[0].(map[string]any)["resource"]
		}, "context.draftOrders must be a FHIR Bundle"},
		{"entry not an array", OrderSignID, func(m map[string]any) { ctxOf(m)["draftOrders"].(map[string]any)["entry"] = map[string]any{} }, "context.draftOrders.entry must be an array"},
		{"entry without resource", OrderSignID, func(m map[string]any) {
			ctxOf(m)["draftOrders"].(map[string]any)["entry"] = append(draftEntries(m), map[string]any{"fullUrl": "urn:uuid:1"})
		}, "context.draftOrders.entry[1].resource is required"},
		{"entry of another type", OrderSignID, func(m map[string]any) {
			ctxOf(m)["draftOrders"].(map[string]any)["entry"] = append(draftEntries(m), map[string]any{"resource": map[string]any{"resourceType": "Observation", "id": "o1", "status": "final"}})
		}, "context.draftOrders.entry[1].resource is a Observation"},
		{"resource without resourceType", OrderSignID, func(m map[string]any) {
			draftEntries(m)[0].(map[string]any)["resource"] = map[string]any{"id": "x"}
		}, "context.draftOrders.entry[0].resource must be a FHIR resource"},
		{"draft of another patient", OrderSignID, func(m map[string]any) {
			draftEntries(m)[0].(map[string]any)["resource"].(map[string]any)["subject"] = map[string]any{"reference": "Patient/someone-else"}
		}, "context.draftOrders.entry[0].resource.subject names another patient"},
		{"draft of another patient, absolute", OrderSignID, func(m map[string]any) {
			draftEntries(m)[0].(map[string]any)["resource"].(map[string]any)["subject"] = map[string]any{"reference": "https://ehr.example.org/fhir/Patient/someone-else"}
		}, "resource.subject names another patient"},
		{"draft with a malformed code", OrderSignID, func(m map[string]any) {
			draftEntries(m)[0].(map[string]any)["resource"].(map[string]any)["medicationCodeableConcept"] = "everolimus"
		}, "context.draftOrders.entry[0].resource could not be read"},
		{"selection not in draftOrders", OrderSelectID, func(m map[string]any) { ctxOf(m)["selections"] = []any{"MedicationRequest/request-999"} }, "context.selections[0] is not a draft order"},
		{"selection without its type", OrderSelectID, func(m map[string]any) { ctxOf(m)["selections"] = []any{"request-123"} }, "context.selections[0] is not a draft order"},
		{"selections not an array", OrderSelectID, func(m map[string]any) { ctxOf(m)["selections"] = "MedicationRequest/request-123" }, "context.selections must be an array"},
		{"order-sign request at order-select", OrderSelectID, func(m map[string]any) { m["hook"] = "order-sign" }, "answers hook \"order-select\""},
		{"patientId missing", OrderSignID, func(m map[string]any) { delete(ctxOf(m), "patientId") }, "context.patientId is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := editOrder(t, sandbox, func(m map[string]any) {
				if tt.service == OrderSignID {
					m["hook"] = "order-sign"
				}
				tt.edit(m)
			})
			s := newTestServer(t, testOptions(t, nil, nil))
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+tt.service, body, nil)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
			}
			if got := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(got, tt.want) {
				t.Errorf("diagnostics %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOrderLooseClients: what a check does not need is never required: a Bundle
// without type, a draft without intent, status or id, no selections at order-select,
// an empty Bundle, a subject given as urn:uuid.
func TestOrderLooseClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		cards int
	}{
		{"no selections: every draft", func(m map[string]any) { delete(ctxOf(m), "selections") }, 1},
		{"no status, no id", func(m map[string]any) {
			r := draftEntries(m)[0].(map[string]any)["resource"].(map[string]any)
			delete(r, "status")
			delete(r, "id")
			delete(ctxOf(m), "selections")
		}, 1},
		{"subject urn:uuid", func(m map[string]any) {
			draftEntries(m)[0].(map[string]any)["resource"].(map[string]any)["subject"] = map[string]any{"reference": "urn:uuid:5b1c"}
		}, 1},
		{"empty Bundle", func(m map[string]any) {
			ctxOf(m)["draftOrders"] = map[string]any{"resourceType": "Bundle"}
			delete(ctxOf(m), "selections")
		}, 0},
		{"drug named only in the text", func(m map[string]any) {
			draftEntries(m)[0].(map[string]any)["resource"].(map[string]any)["medicationCodeableConcept"] = map[string]any{"text": "Afinitor 10 mg tablet"}
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := editOrder(t, "order-select-nec-everolimus-sandbox", tt.edit)
			s := newTestServer(t, testOptions(t, nil, nil))
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+OrderSelectID, body, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			checkWire(t, w.Body.Bytes())
			var r cards.Response
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Cards) != tt.cards {
				t.Errorf("%d cards, want %d: %s", len(r.Cards), tt.cards, w.Body)
			}
		})
	}
}

// TestOrderSelectVsSign: the same drafts give only the critical cards at order-select
// and every card at order-sign; the critical cards are the same.
func TestOrderSelectVsSign(t *testing.T) {
	t.Parallel()
	answer := func(id string, body []byte) cards.Response {
		s := newTestServer(t, testOptions(t, nil, nil))
		w := do(s.Handler(), http.MethodPost, "/cds-services/"+id, body, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", id, w.Code, w.Body)
		}
		var r cards.Response
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	sel := answer(OrderSelectID, orderFixture(t, "order-select-nec-everolimus-sandbox"))
	sign := answer(OrderSignID, orderFixture(t, "order-sign-nec-everolimus-sandbox"))
	pnetSel := answer(OrderSelectID, orderFixture(t, "order-select-pnet-sunitinib"))
	pnetSign := answer(OrderSignID, orderFixture(t, "order-sign-pnet-sunitinib"))
	var critical []string
	for _, c := range sign.Cards {
		if c.Indicator == cards.Critical {
			critical = append(critical, c.Summary)
		}
	}
	var got []string
	for _, c := range sel.Cards {
		if c.Indicator != cards.Critical {
			t.Errorf("order-select answered a %s card: %s", c.Indicator, c.Summary)
		}
		got = append(got, c.Summary)
	}
	if len(critical) == 0 || !cmp.Equal(got, critical) {
		t.Errorf("order-select %v, order-sign critical %v", got, critical)
	}
	if len(pnetSel.Cards) != 0 || len(pnetSign.Cards) < 2 {
		t.Errorf("pNET sunitinib: select %d cards (want 0), sign %d (want the warnings)", len(pnetSel.Cards), len(pnetSign.Cards))
	}
}

// TestOrderPrefetchVsFallback: an order-sign call gives the same cards whether the
// record comes in the prefetch or from the FHIR server (paginated); with neither, 412.
func TestOrderPrefetchVsFallback(t *testing.T) {
	t.Parallel()
	const name = "order-sign-net-prrt-washout"
	fake := newFakeFHIR(t, orderFixture(t, name), true, func(f *fakeFHIR) { f.pageSize = 2 })
	answer := func(body []byte) (int, string) {
		o := testOptions(t, &fakeAuth{client: auth.Client{FHIRServers: []string{fake.URL()}}}, fake.srv.Client().Transport)
		w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+OrderSignID, body, nil)
		if w.Code != http.StatusOK {
			return w.Code, w.Body.String()
		}
		return w.Code, string(normalJSON(t, w.Body.Bytes()))
	}
	_, byPrefetch := answer(orderFixture(t, name))
	if fake.hits.Load() != 0 {
		t.Fatalf("the prefetch call read the FHIR server %d times", fake.hits.Load())
	}
	_, byFallback := answer(editOrder(t, name, func(m map[string]any) {
		delete(m, "prefetch")
		m["fhirServer"] = fake.URL()
		m["fhirAuthorization"] = map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
	}))
	if fake.hits.Load() < int64(len(PrefetchKeys)) {
		t.Fatalf("the fallback read the FHIR server %d times", fake.hits.Load())
	}
	if diff := cmp.Diff(byPrefetch, byFallback); diff != "" {
		t.Errorf("prefetch vs fallback (-prefetch +fallback):\n%s", diff)
	}
	if !strings.Contains(byPrefetch, `"order-check"`) {
		t.Errorf("no order-check card: the comparison is of empty answers: %s", byPrefetch)
	}
	code, body := answer(editOrder(t, name, func(m map[string]any) { delete(m, "prefetch") }))
	if code != http.StatusPreconditionFailed {
		t.Errorf("no prefetch, no fhirServer: status %d, want 412: %s", code, body)
	}
}

// summariesOf returns the sorted "indicator summary" lines of an answer.
func summariesOf(t *testing.T, body []byte) []string {
	t.Helper()
	var r cards.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range r.Cards {
		out = append(out, string(c.Indicator)+" "+c.Summary)
	}
	slices.Sort(out)
	return out
}

// TestOrderMetamorphic: what must not change the cards does not: the drafts in another
// order; an unrelated draft and a withdrawn (entered-in-error) draft added; the drafts
// also stored in the prefetch (an EHR that keeps drafts); an entered-in-error copy of a
// draft's drug on record.
func TestOrderMetamorphic(t *testing.T) {
	t.Parallel()
	const name = "order-sign-net-prrt-washout"
	answer := func(body []byte) []string {
		s := newTestServer(t, testOptions(t, nil, nil))
		w := do(s.Handler(), http.MethodPost, "/cds-services/"+OrderSignID, body, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		checkWire(t, w.Body.Bytes())
		return summariesOf(t, w.Body.Bytes())
	}
	base := answer(orderFixture(t, name))
	if len(base) < 3 {
		t.Fatalf("fixture answers %v: too few cards to compare", base)
	}
	pid := "card-net-prrt"
	variants := map[string]func(m map[string]any){
		"drafts reversed": func(m map[string]any) {
			e := draftEntries(m)
			slices.Reverse(e)
		},
		"unrelated and withdrawn drafts added": func(m map[string]any) {
			b := ctxOf(m)["draftOrders"].(map[string]any)
			b["entry"] = append(draftEntries(m),
				map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "metformin-draft", "status": "draft", "intent": "order",
					"medicationCodeableConcept": map[string]any{"text": "metformin 500 mg tablet"}, "subject": map[string]any{"reference": "Patient/" + pid}}},
				map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "sunitinib-eie", "status": "entered-in-error", "intent": "order",
					"medicationCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "357977"}}, "text": "sunitinib"},
					"subject":                   map[string]any{"reference": "Patient/" + pid}}},
				map[string]any{"resource": map[string]any{"resourceType": "ServiceRequest", "id": "physio-draft", "status": "draft", "intent": "order",
					"code": map[string]any{"text": "Physiotherapy referral"}, "subject": map[string]any{"reference": "Patient/" + pid}}})
		},
		"drafts also in the prefetch": func(m map[string]any) {
			pf := m["prefetch"].(map[string]any)
			for _, e := range draftEntries(m) {
				r := e.(map[string]any)["resource"].(map[string]any)
				key := map[string]string{"MedicationRequest": KeyMedicationRequests, "ServiceRequest": KeyServiceRequests}[r["resourceType"].(string)]
				if key == "" {
					continue
				}
				b, _ := pf[key].(map[string]any)
				if b == nil {
					b = map[string]any{"resourceType": "Bundle", "type": "searchset"}
					pf[key] = b
				}
				entries, _ := b["entry"].([]any)
				b["entry"] = append(entries, map[string]any{"resource": r})
			}
		},
		"an entered-in-error everolimus on record": func(m map[string]any) {
			pf := m["prefetch"].(map[string]any)
			b := pf[KeyMedicationRequests].(map[string]any)
			b["entry"] = append(b["entry"].([]any), map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "eve-old", "status": "entered-in-error", "intent": "order",
				"medicationCodeableConcept": map[string]any{"text": "everolimus 10 mg"}, "subject": map[string]any{"reference": "Patient/" + pid}}})
		},
	}
	for vname, f := range variants {
		t.Run(vname, func(t *testing.T) {
			t.Parallel()
			got := answer(editOrder(t, name, f))
			if diff := cmp.Diff(base, got); diff != "" {
				t.Errorf("cards changed (-base +variant):\n%s", diff)
			}
		})
	}
}
