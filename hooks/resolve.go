package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/internal/fhirjson"
)

// Disposition is what the resolver did with one prefetch key (a low-cardinality label,
// safe for metrics).
type Disposition string

const (
	Present Disposition = "present" // the client sent the data
	Null    Disposition = "null"    // the client said there is none
	Fetched Disposition = "fetched" // read from fhirServer (absent, OperationOutcome, or further pages)
	Failed  Disposition = "failed"  // could not be had
)

// Resolution is the data of one request: the documents for fhirmap, in PrefetchKeys order,
// and the disposition of every key.
type Resolution struct {
	// Documents are read once each (fhirjson.ReadDocument), for fhirmap.Input.Read.
	Documents    []*fhirjson.Document
	Dispositions map[string]Disposition
	// Notes are data-quality notes of the reading (a referenced Medication that could
	// not be read), for fhirmap.Input.Notes.
	Notes []fhirmap.Note
	// Partial are the keys whose search was read in part (a next-link loop, the page cap,
	// the deadline, after at least one page), each with its *fhirclient.Incomplete: the
	// pages read are in Documents, and the summary card must say the record may hold more.
	Partial map[string]*fhirclient.Incomplete
}

// Resolver applies the prefetch decision table of CDS Hooks 2.0 to a request:
//
//	prefetch value                   → action
//	a resource or a Bundle           → use it (a Bundle's next links are read from fhirServer)
//	null                             → no data; never fetched
//	absent, or an OperationOutcome   → fetch the template from fhirServer
//	  (or a Bundle with an error issue)
//
// A medication record that references a Medication that no document holds gets it read
// as Medication/{id} from fhirServer, in prefetch mode too (readMedications): at most
// MaxMedicationReads per request, under the same policy, deadline, size caps and token;
// a read that fails is a data-quality note, never an error.
//
// Every fetch of one request runs concurrently under one deadline (Timeout). A search read
// in part (a next-link loop, the page cap, the deadline, after at least one page) is used
// and listed in Resolution.Partial, never silently. A key that cannot be had (no fhirServer, an untrusted one, an error, a timeout) fails the request
// with KindMissingData naming every such key; an untrusted fhirServer is refused before
// any connection.
type Resolver struct {
	// FHIR reads from fhirServer; nil means no fallback (every needed fetch fails).
	FHIR *fhirclient.Client
	// Policy decides which fhirServer may be read.
	Policy fhirclient.Policy
	// Timeout bounds all the fetches of one request. Default 5 s.
	Timeout time.Duration
	// Stage, when set, wraps each key's fetch (StageFetch).
	Stage StageFunc
	// MaxMedicationReads caps the Medication/{id} reads of one request. Default 20.
	MaxMedicationReads int
}

type job struct {
	key   string
	first string // the absolute URL to read first; "" for the key's template under the base
	pages []*fhirjson.Document
	err   error
}

// Resolve returns the documents of req for the authenticated client.
func (r *Resolver) Resolve(ctx context.Context, req *Request, client auth.Client) (*Resolution, error) {
	pid := req.PatientView.PatientID
	res := &Resolution{Dispositions: make(map[string]Disposition, len(PrefetchKeys))}
	// One deadline for every read of the request: the keys, then the Medications.
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	perKey := make(map[string][]*fhirjson.Document, len(PrefetchKeys))
	var jobs []*job

	for _, key := range PrefetchKeys {
		v, ok := req.Prefetch[key]
		if ok && firstByte(v) == 'n' {
			res.Dispositions[key] = Null
			continue
		}
		if ok {
			p, err := fhirjson.ReadDocument(v)
			if err != nil || p.ResourceType == "" {
				return nil, Errorf(KindInvalid, "prefetch %q is not a FHIR resource (an object with a resourceType)", key)
			}
			if !p.Failed() {
				if key == KeyPatient && (p.ResourceType != "Patient" || p.ID != pid) {
					return nil, Errorf(KindInvalid, "prefetch %q must be the Patient of context.patientId", key)
				}
				perKey[key] = []*fhirjson.Document{p}
				res.Dispositions[key] = Present
				if next := p.Next(); next != "" {
					jobs = append(jobs, &job{key: key, first: next})
				}
				continue
			}
		}
		jobs = append(jobs, &job{key: key}) // the template, read from fhirServer (run)
	}

	if len(jobs) > 0 {
		if err := r.run(ctx, req, client, jobs); err != nil {
			for _, j := range jobs {
				res.Dispositions[j.key] = Failed
			}
			return res, err
		}
		var missing []MissingKey
		for _, j := range jobs {
			var inc *fhirclient.Incomplete
			if errors.As(j.err, &inc) && len(j.pages) > 0 {
				if res.Partial == nil {
					res.Partial = map[string]*fhirclient.Incomplete{}
				}
				res.Partial[j.key] = inc
				j.err = nil
			}
			if j.err != nil {
				res.Dispositions[j.key] = Failed
				missing = append(missing, MissingKey{Key: j.key, Reason: fhirclient.Reason(j.err)})
				continue
			}
			if res.Dispositions[j.key] != Present {
				res.Dispositions[j.key] = Fetched
			}
			perKey[j.key] = append(perKey[j.key], j.pages...)
		}
		if len(missing) > 0 {
			return res, &Error{Kind: KindMissingData, Msg: "prefetch data could not be had", Missing: missing}
		}
	}
	for _, key := range PrefetchKeys {
		res.Documents = append(res.Documents, perKey[key]...)
	}
	r.readMedications(ctx, req, client, res)
	return res, nil
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 5 * time.Second
	}
	return r.Timeout
}

// medicationStageKey labels the Medication reads in the fetch stage.
const medicationStageKey = "medications"

// readMedications reads from fhirServer the Medications that the medication records of
// res.Documents reference and no document of res holds (fhirmap.UnresolvedMedications: one
// walk over the documents already read, decoding only the medication records' references),
// and adds each one read to res.Documents. Nothing is read without a fhirServer the policy allows; a
// reference to another server is not followed; ids are read once, at most
// MaxMedicationReads of them. A failure is a note: the record then stays unidentified
// (fhirmap notes it, and the cards that suggest a drug warn).
func (r *Resolver) readMedications(ctx context.Context, req *Request, client auth.Client, res *Resolution) {
	if req.FHIRServer == "" || r.FHIR == nil {
		return
	}
	refs := fhirmap.UnresolvedMedications(res.Documents)
	if len(refs) == 0 {
		return
	}
	note := func(ref, text string) {
		res.Notes = append(res.Notes, fhirmap.Note{Kind: fhirmap.NoteCaveat, Ref: ref, Text: text})
	}
	ctx, base, token, reason := r.access(ctx, req, client)
	if reason != "" {
		for _, m := range refs {
			note(m.Ref, m.Ref+" was not read: "+reason)
		}
		return
	}
	var targets []fhirmap.MedicationRef
	for _, m := range refs {
		if strings.Contains(m.Reference, "://") {
			u, err := url.Parse(m.Reference)
			if err != nil || !fhirclient.UnderBase(u, base) {
				note(m.Ref, m.Ref+" is referenced on another server than fhirServer; not read")
				continue
			}
		}
		targets = append(targets, m)
	}
	limit := r.MaxMedicationReads
	if limit <= 0 {
		limit = 20
	}
	if len(targets) > limit {
		note("", fmt.Sprintf("%d referenced Medications were not read (at most %d per request)", len(targets)-limit, limit))
		targets = targets[:limit]
	}
	docs := make([]*fhirjson.Document, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, m := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fctx, end := r.Stage.start(ctx, StageFetch, medicationStageKey)
			target := (&url.URL{Scheme: base.Scheme, Host: base.Host, Path: strings.TrimRight(base.Path, "/") + "/Medication/" + m.ID}).String()
			docs[i], errs[i] = r.FHIR.Read(fctx, base, token, target, "Medication", m.ID)
			end(errs[i])
		}()
	}
	wg.Wait()
	for i, m := range targets {
		if errs[i] != nil {
			note(m.Ref, m.Ref+" could not be read from the FHIR server ("+fhirclient.Reason(errs[i])+")")
			continue
		}
		res.Documents = append(res.Documents, docs[i])
	}
}

// access decides whether the fhirServer of req may be read for client, and how: the base
// (fhirclient.Policy: the client's list; for an anonymous call, AllowOpen, and the
// returned ctx makes the dial guard refuse private ranges) and the token (the request's,
// when usable: present and not expired). Outside development a read without a token is
// refused unless the client's servers are open on purpose. reason is the client-safe
// refusal, "" when the server may be read.
func (r *Resolver) access(ctx context.Context, req *Request, client auth.Client) (_ context.Context, base *url.URL, token, reason string) {
	var err error
	if client.Anonymous {
		base, err = r.Policy.AllowOpen(req.FHIRServer)
		ctx = fhirclient.PublicOnly(ctx)
	} else {
		base, err = r.Policy.Allow(req.FHIRServer, client.FHIRServers)
	}
	if err != nil {
		return ctx, nil, "", err.Error()
	}
	if req.FHIRAuthorization.usable() {
		token = req.FHIRAuthorization.AccessToken
	}
	if token == "" && !r.Policy.Mode.OpenFHIR() && !client.OpenFHIR {
		// CDS Hooks: the service uses the FHIR server with the access token it is given.
		return ctx, nil, "", "not in the prefetch and no usable fhirAuthorization (absent or expired) for the fhirServer"
	}
	return ctx, base, token, ""
}

// run checks the fhirServer and then reads every job concurrently. It returns an error
// only when no job can run (no or untrusted fhirServer); per-job errors are on the jobs.
func (r *Resolver) run(ctx context.Context, req *Request, client auth.Client, jobs []*job) error {
	refuse := func(reason string) error {
		e := &Error{Kind: KindMissingData, Msg: "prefetch data could not be had"}
		for _, j := range jobs {
			e.Missing = append(e.Missing, MissingKey{Key: j.key, Reason: reason})
		}
		return e
	}
	if req.FHIRServer == "" {
		return refuse("not in the prefetch and no fhirServer given")
	}
	if r.FHIR == nil {
		return refuse("not in the prefetch and the FHIR fallback is off")
	}
	ctx, base, token, reason := r.access(ctx, req, client)
	if reason != "" {
		return refuse(reason)
	}
	pid := req.PatientView.PatientID
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fctx, end := r.Stage.start(ctx, StageFetch, j.key)
			switch {
			case j.first != "": // next links of a prefetched Bundle
				j.pages, j.err = r.FHIR.Pages(fctx, base, token, j.first)
			case j.key == KeyPatient:
				var p *fhirjson.Document
				p, j.err = r.FHIR.Patient(fctx, base, token, fallbackURL(base, j.key, pid), pid)
				if j.err == nil {
					j.pages = []*fhirjson.Document{p}
				}
			default:
				j.pages, j.err = r.FHIR.Pages(fctx, base, token, fallbackURL(base, j.key, pid))
			}
			end(j.err)
		}()
	}
	wg.Wait()
	return nil
}

// fallbackURL is the URL the fallback reads for key: the key's read (fhirmap.Reads)
// under base (a ParseBase result), built as a url.URL, never by joining strings.
func fallbackURL(base *url.URL, key, patientID string) string {
	for _, r := range fhirmap.Reads() {
		if r.Key == key {
			return r.URL(base, patientID)
		}
	}
	return ""
}
