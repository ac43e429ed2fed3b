package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/internal/fhirjson"
)

// Stage names a step of one evaluation, for tracing.
type Stage string

const (
	StagePrefetch Stage = "prefetch" // resolving every prefetch key
	StageFetch    Stage = "fetch"    // reading one key from fhirServer (key given)
	StageMapping  Stage = "mapping"  // fhirmap.Map
	StageRules    Stage = "rules"    // cards.Engine.Evaluate
)

// StageFunc starts a stage (key is the prefetch key for StageFetch, "" otherwise) and
// returns the context for it and the function that ends it with its error. Telemetry
// sets it to open spans; nil means no tracing.
type StageFunc func(ctx context.Context, stage Stage, key string) (context.Context, func(err error))

func (f StageFunc) start(ctx context.Context, stage Stage, key string) (context.Context, func(error)) {
	if f == nil {
		return ctx, func(error) {}
	}
	return f(ctx, stage, key)
}

// Evaluator runs one CDS Hooks request end to end: prefetch resolution, fhirmap.Map and
// cards.Engine.Evaluate. The server and `nencds eval` share it.
type Evaluator struct {
	Engine   *cards.Engine
	Resolver *Resolver
	// Now is the evaluation clock (injected: tests and `nencds eval -at` fix it).
	Now func() time.Time
	// Stage, when set, wraps the prefetch, mapping and rules stages (and, through the
	// Resolver's own Stage, each fetch).
	Stage StageFunc
}

// Result is the result of one evaluation with what the resolver did, for logs and metrics.
type Result struct {
	Response     cards.Response
	Dispositions map[string]Disposition
	// Picture is what fhirmap understood (nil when the request failed before mapping);
	// `nencds eval -text` shows its tumours.
	Picture *fhirmap.Picture
	// Partial are the keys read in part, each with its reason label (fhirclient.Incomplete).
	Partial map[string]string
}

// Run evaluates a validated request for the authenticated client.
func (e *Evaluator) Run(ctx context.Context, req *Request, client auth.Client) (*Result, error) {
	r := e.Resolver
	if r == nil {
		r = &Resolver{}
	}
	pctx, end := e.Stage.start(ctx, StagePrefetch, "")
	res, err := r.Resolve(pctx, req, client)
	end(err)
	if err != nil {
		out := &Result{Response: cards.Response{Cards: []cards.Card{}}}
		if res != nil {
			out.Dispositions = res.Dispositions
		}
		return out, err
	}
	pic, resp, err := evaluate(ctx, e.Stage, e.Engine, fhirmap.Input{
		PatientID:  req.PatientView.PatientID,
		At:         e.now(),
		Read:       res.Documents,
		FHIRServer: req.FHIRServer,
		Notes:      append(res.Notes, partialNotes(res.Partial)...),
	}, req.Orders)
	out := &Result{Response: resp, Dispositions: res.Dispositions, Picture: pic}
	for key, inc := range res.Partial {
		if out.Partial == nil {
			out.Partial = map[string]string{}
		}
		out.Partial[key] = inc.Reason
	}
	return out, err
}

// partialNotes are the data-quality notes of the searches read in part, in PrefetchKeys
// order, each naming the search.
func partialNotes(partial map[string]*fhirclient.Incomplete) []fhirmap.Note {
	var notes []fhirmap.Note
	for _, key := range PrefetchKeys {
		inc, ok := partial[key]
		if !ok {
			continue
		}
		notes = append(notes, fhirmap.Note{
			Kind: fhirmap.NoteIncomplete,
			Text: fmt.Sprintf("the %q search of the FHIR server was read in part (%s): the record may hold more than shown", key, inc.Detail),
		})
	}
	return notes
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
	_, resp, err := evaluate(context.Background(), nil, engine, in, nil)
	return resp, err
}

// EvaluatePicture is Evaluate that also returns the Picture the cards were made from
// (nil on error).
func EvaluatePicture(engine *cards.Engine, in fhirmap.Input) (*fhirmap.Picture, cards.Response, error) {
	return evaluate(context.Background(), nil, engine, in, nil)
}

// evaluate maps the documents and applies the patient-view rules, or, when orders is
// set (order-select, order-sign), the order checks of its drafts.
func evaluate(ctx context.Context, stage StageFunc, engine *cards.Engine, in fhirmap.Input, orders *cards.Orders) (*fhirmap.Picture, cards.Response, error) {
	_, end := stage.start(ctx, StageMapping, "")
	pic, err := fhirmap.Map(in)
	if err != nil {
		err = &Error{Kind: KindInvalid, Msg: "prefetch holds a document that is not a FHIR resource", Err: err}
		end(err)
		return nil, cards.Response{Cards: []cards.Card{}}, err
	}
	end(nil)
	_, end = stage.start(ctx, StageRules, "")
	var resp cards.Response
	if orders != nil {
		resp = engine.EvaluateOrders(pic, *orders)
	} else {
		resp = engine.Evaluate(pic)
	}
	end(nil)
	if resp.Cards == nil {
		resp.Cards = []cards.Card{}
	}
	return pic, resp, nil
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
	d, err := fhirjson.ReadDocument(doc)
	if err != nil {
		return ""
	}
	if d.ResourceType == "Patient" {
		return d.ID
	}
	for _, e := range d.Entries {
		if e.Resource != nil && e.Resource.ResourceType == "Patient" {
			return e.Resource.ID
		}
	}
	return ""
}
