package hooks

import (
	"context"
	"encoding/json"
	"net/url"
	"sync"
	"time"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks/auth"
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
	Documents    []json.RawMessage
	Dispositions map[string]Disposition
}

// Resolver applies the prefetch decision table of CDS Hooks 2.0 to a request:
//
//	prefetch value                   → action
//	a resource or a Bundle           → use it (a Bundle's next links are read from fhirServer)
//	null                             → no data; never fetched
//	absent, or an OperationOutcome   → fetch the template from fhirServer
//	  (or a Bundle with an error issue)
//
// Every fetch of one request runs concurrently under one deadline (Timeout). A key that
// cannot be had (no fhirServer, an untrusted one, an error, a timeout) fails the request
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
}

type job struct {
	key   string
	first string // the absolute URL to read first; "" for the key's template under the base
	pages []json.RawMessage
	err   error
}

// Resolve returns the documents of req for the authenticated client.
func (r *Resolver) Resolve(ctx context.Context, req *Request, client auth.Client) (*Resolution, error) {
	pid := req.PatientView.PatientID
	res := &Resolution{Dispositions: make(map[string]Disposition, len(PrefetchKeys))}
	perKey := make(map[string][]json.RawMessage, len(PrefetchKeys))
	var jobs []*job

	for _, key := range PrefetchKeys {
		v, ok := req.Prefetch[key]
		if ok && firstByte(v) == 'n' {
			res.Dispositions[key] = Null
			continue
		}
		if ok {
			p, err := fhirclient.PeekIn(req.index, v)
			if err != nil {
				return nil, Errorf(KindInvalid, "prefetch %q is not a FHIR resource (an object with a resourceType)", key)
			}
			if !p.Failed() {
				if key == KeyPatient && (p.ResourceType != "Patient" || p.ID != pid) {
					return nil, Errorf(KindInvalid, "prefetch %q must be the Patient of context.patientId", key)
				}
				perKey[key] = []json.RawMessage{v}
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
	return res, nil
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
	base, err := r.Policy.Allow(req.FHIRServer, client.FHIRServers)
	if err != nil {
		return refuse(err.Error())
	}
	pid := req.PatientView.PatientID
	token := ""
	if req.FHIRAuthorization != nil {
		token = req.FHIRAuthorization.AccessToken
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
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
				var p json.RawMessage
				p, j.err = r.FHIR.Patient(fctx, base, token, fallbackURL(base, j.key, pid), pid)
				if j.err == nil {
					j.pages = []json.RawMessage{p}
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
