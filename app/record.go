package app

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/internal/fhirjson"
)

// errUnauthorized is a read that the FHIR server refused with 401: the token is no
// longer accepted.
var errUnauthorized = errors.New("the FHIR server no longer accepts the access token")

// readFailure is a read that failed, with its client-safe reason.
type readFailure struct {
	Key, Reason string
}

// readRecord reads every fhirmap.Read of the session's patient with the session's token,
// concurrently under one deadline, in the order of fhirmap.Reads. Any failed read fails
// the whole (never a picture from part of the record); a 401 is errUnauthorized.
func (a *App) readRecord(ctx context.Context, s *session) ([]*fhirjson.Document, []readFailure, error) {
	ctx, cancel := context.WithTimeout(ctx, a.o.FHIRTimeout)
	defer cancel()
	reads := fhirmap.Reads()
	pages := make([][]*fhirjson.Document, len(reads))
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, rd := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := rd.URL(s.base, s.patient)
			if rd.Type == "Patient" {
				var p *fhirjson.Document
				p, errs[i] = a.o.FHIR.Patient(ctx, s.base, s.token, target, s.patient)
				pages[i] = []*fhirjson.Document{p}
				return
			}
			pages[i], errs[i] = a.o.FHIR.Pages(ctx, s.base, s.token, target)
		}()
	}
	wg.Wait()
	var failed []readFailure
	var docs []*fhirjson.Document
	for i, err := range errs {
		if err == nil {
			docs = append(docs, pages[i]...)
			continue
		}
		if fhirclient.Status(err) == http.StatusUnauthorized {
			return nil, nil, errUnauthorized
		}
		failed = append(failed, readFailure{Key: reads[i].Type, Reason: fhirclient.Reason(err)})
	}
	if len(failed) > 0 {
		return nil, failed, errors.New("the record could not be read")
	}
	return docs, nil, nil
}

// patient is /app/patient: the page of the session's patient.
func (a *App) patient(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(r)
	if !ok {
		a.fail(w, r, http.StatusUnauthorized, "Session ended", "There is no open session (it lasts a few minutes). Open the app again from the EHR.")
		return
	}
	docs, failed, err := a.readRecord(r.Context(), s)
	switch {
	case errors.Is(err, errUnauthorized):
		a.endSession(w, r)
		a.fail(w, r, http.StatusUnauthorized, "Access expired", "The EHR no longer accepts the app's access to this record (FHIR 401). Open the app again from the EHR.")
		return
	case err != nil:
		a.o.Logger.Warn("app: record read failed", "reads", len(failed))
		a.render(w, http.StatusBadGateway, "error.html", errorPage{
			Status: http.StatusBadGateway, Title: "The record could not be read",
			Message: "Part of the record could not be read, so nothing is shown (a picture from part of the record could mislead): " + failureText(failed) + ".",
		})
		return
	}
	now := a.o.Now()
	pic, err := fhirmap.Map(fhirmap.Input{PatientID: s.patient, At: now, FHIRServer: s.base.String(), Read: docs})
	if err != nil {
		a.o.Logger.Warn("app: record could not be mapped")
		a.fail(w, r, http.StatusBadGateway, "The record could not be read", "The EHR answered with something that is not a FHIR record. Nothing is shown.")
		return
	}
	resp := a.o.Engine.Evaluate(pic)
	a.render(w, http.StatusOK, "page.html", buildPage(pic, resp, s.topic))
}

func failureText(failed []readFailure) string {
	out := ""
	for i, f := range failed {
		if i > 0 {
			out += "; "
		}
		out += f.Key + ": " + f.Reason
	}
	return out
}
