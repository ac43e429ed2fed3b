package hooks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks/auth"
)

// Evaluator runs one CDS Hooks request end to end: prefetch resolution, fhirmap.Map and
// cards.Engine.Evaluate. The server and `nencds eval` share it.
type Evaluator struct {
	Engine   *cards.Engine
	Resolver *Resolver
	// Now is the evaluation clock (injected: tests and `nencds eval -at` fix it).
	Now func() time.Time
}

// Result is the result of one evaluation with what the resolver did, for logs and metrics.
type Result struct {
	Response     cards.Response
	Dispositions map[string]Disposition
}

// Run evaluates a validated request for the authenticated client.
func (e *Evaluator) Run(ctx context.Context, req *Request, client auth.Client) (*Result, error) {
	r := e.Resolver
	if r == nil {
		r = &Resolver{}
	}
	res, err := r.Resolve(ctx, req, client)
	if err != nil {
		out := &Result{Response: cards.Response{Cards: []cards.Card{}}}
		if res != nil {
			out.Dispositions = res.Dispositions
		}
		return out, err
	}
	resp, err := Evaluate(e.Engine, fhirmap.Input{
		PatientID: req.PatientView.PatientID,
		At:        e.now(),
		Documents: res.Documents,
	})
	return &Result{Response: resp, Dispositions: res.Dispositions}, err
}

func (e *Evaluator) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Evaluate maps the documents of one patient and applies the rules. Errors are KindInvalid
// (a document that is not a FHIR resource); the cards are never nil.
func Evaluate(engine *cards.Engine, in fhirmap.Input) (cards.Response, error) {
	pic, err := fhirmap.Map(in)
	if err != nil {
		return cards.Response{Cards: []cards.Card{}}, &Error{Kind: KindInvalid, Msg: "prefetch holds a document that is not a FHIR resource", Err: err}
	}
	resp := engine.Evaluate(pic)
	if resp.Cards == nil {
		resp.Cards = []cards.Card{}
	}
	return resp, nil
}

// NewUUID returns a random (version 4) UUID from crypto/rand: the card and suggestion ids
// of the server.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// SequentialIDs returns a deterministic id source for tests and goldens: UUID-shaped ids
// 00000000-0000-4000-8000-000000000001, ...002, and so on. Safe for concurrent use.
func SequentialIDs() func() string {
	var n atomic.Uint64
	return func() string {
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n.Add(1))
	}
}

// PatientIDOf returns the id of the first Patient in doc (a Patient or a Bundle), or "".
func PatientIDOf(doc json.RawMessage) string {
	var d struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return ""
	}
	if d.ResourceType == "Patient" {
		return d.ID
	}
	for _, e := range d.Entry {
		if e.Resource.ResourceType == "Patient" {
			return e.Resource.ID
		}
	}
	return ""
}
