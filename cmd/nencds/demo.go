package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/internal/smartfixture"
)

// runDemoEHR is `nencds demo-ehr`: a fixture EHR on loopback for trying the SMART app
// with `nencds -dev`. It serves one patient's Bundle (SMART configuration, an
// authorization endpoint that approves at once, a PKCE-checking token endpoint, FHIR
// reads that need the issued token), calls the patient-view service with it as
// fhirServer, and prints the EHR launch URL of the first card's smart link; it serves
// until interrupted. Development only: it approves every launch.
func runDemoEHR(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(launchURL string)) error {
	fs := flag.NewFlagSet("nencds demo-ehr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cds := fs.String("cds", "http://127.0.0.1:8080", "base URL of the nencds -dev server")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nencds demo-ehr [-cds URL] BUNDLE.json   (with nencds -dev running)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("demo-ehr needs one Bundle file (e.g. testdata/patients/net-g2-si-after-prrt-octreotide.json)")
	}
	bundle, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	ehr, err := smartfixture.New(bundle, devClientID)
	if err != nil {
		return err
	}
	defer ehr.Close()
	launch, err := demoLaunch(ctx, strings.TrimRight(*cds, "/"), ehr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fixture EHR at %s (FHIR base %s)\nopen in a browser:\n\n  %s\n\n(Ctrl-C ends)\n", ehr.URL, ehr.FHIRBase, launch)
	if ready != nil {
		ready(launch)
	}
	<-ctx.Done()
	return nil
}

// demoLaunch calls the patient-view service for the fixture's patient and returns the
// EHR launch URL of the smart link of the first card with suggestions (else the first).
func demoLaunch(ctx context.Context, cds string, ehr *smartfixture.Server) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"hook": "patient-view", "hookInstance": fmt.Sprintf("demo-%d", time.Now().UnixNano()),
		"fhirServer":        ehr.FHIRBase,
		"fhirAuthorization": map[string]any{"access_token": ehr.IssueToken(), "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.rs", "subject": "nencds"},
		"context":           map[string]string{"userId": "Practitioner/demo", "patientId": ehr.PatientID()},
	})
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cds+"/cds-services/nen-patient-view", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("is nencds -dev running at %s? %w", cds, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("patient-view answered %d: %s", resp.StatusCode, out)
	}
	var r cards.Response
	if err := json.Unmarshal(out, &r); err != nil {
		return "", err
	}
	var link *cards.Link
	for _, withSuggestions := range []bool{true, false} {
		for _, c := range r.Cards {
			for i := range c.Links {
				if link == nil && c.Links[i].Type == "smart" && (len(c.Suggestions) > 0 || !withSuggestions) {
					link = &c.Links[i]
				}
			}
		}
	}
	if link == nil {
		return "", errors.New("no card carries a smart link (is the app on? nencds -dev turns it on)")
	}
	return link.URL + "?" + url.Values{"iss": {ehr.FHIRBase}, "launch": {ehr.Launch(link.AppContext)}}.Encode(), nil
}
