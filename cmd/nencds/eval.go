package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/hooks/auth"
)

// evalLimits are the decoder limits of `nencds eval` (a local file: generous).
var evalLimits = hooks.Limits{MaxBytes: 256 << 20, MaxDepth: 128, MaxString: 64 << 20}

// runEval implements `nencds eval [-at RFC3339] [-text] [-patient ID] [-rules-config FILE]
// [-max-cards N] [-smart-app-url URL] FILE|-`: it evaluates a CDS Hooks request (prefetch
// only; no FHIR fallback) or a FHIR Bundle/resource with the server's code and rule
// settings and prints the response JSON, or the text report with -text.
func runEval(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nencds eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	at := fs.String("at", "", "evaluation time, RFC 3339 (default now)")
	text := fs.Bool("text", false, "print the text report instead of the response JSON")
	patient := fs.String("patient", "", "patient id for a Bundle (default: the Bundle's first Patient)")
	var rc Config
	fs.StringVar(&rc.RulesConfig, "rules-config", "", "JSON file of rule settings merged over the defaults (as the server's -rules-config)")
	fs.IntVar(&rc.MaxCards, "max-cards", defaultRules.MaxCards, "maximum cards (0: no cap); overrides -rules-config")
	fs.StringVar(&rc.SMARTAppURL, "smart-app-url", defaultRules.SMARTAppURL, "SMART app link on every card; overrides -rules-config")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nencds eval [-at RFC3339] [-text] [-patient ID] [-rules-config FILE] [-max-cards N] [-smart-app-url URL] FILE|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("eval needs one FILE (or - for stdin)")
	}
	rc.evalLocal = true // a local evaluation: an http SMART app URL is allowed
	rc.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { rc.set[f.Name] = true })
	rules, err := rc.rulesConfig()
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("-at: %w", err)
		}
		now = t
	}
	var r io.Reader = stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	data, err := hooks.ReadBody(r, evalLimits)
	if err != nil {
		return err
	}
	pic, resp, err := evaluateFile(ctx, data, now, *patient, rules)
	if err != nil {
		return err
	}
	if len(resp.Invalid) > 0 {
		// Never silent: a rule built a card that failed validation and was left out.
		fmt.Fprintf(stderr, "nencds eval: %d card(s) failed validation and were left out (a defect in the rules): %s\n",
			len(resp.Invalid), strings.Join(resp.Invalid, ", "))
	}
	if *text {
		if err := writeTumours(stdout, pic); err != nil {
			return err
		}
		return writeText(stdout, resp)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(resp); err != nil {
		return err
	}
	_, err = stdout.Write(buf.Bytes())
	return err
}

// evaluateFile evaluates a CDS Hooks request or a FHIR document at now; it returns the
// Picture too (for the text report's tumours).
func evaluateFile(ctx context.Context, data []byte, now time.Time, patientID string, rules cards.Config) (*fhirmap.Picture, cards.Response, error) {
	var probe struct {
		ResourceType string `json:"resourceType"`
		Hook         string `json:"hook"`
	}
	if err := hooks.DecodeJSON(data, evalLimits, &probe); err != nil {
		return nil, cards.Response{}, err
	}
	engine := cards.NewEngine(rules, nil) // nil: random version-4 uuids
	switch {
	case probe.Hook != "":
		req, err := hooks.DecodeRequest(data, evalLimits)
		if err != nil {
			return nil, cards.Response{}, err
		}
		svc, ok := hooks.ServiceForHook(req.Hook)
		if !ok {
			return nil, cards.Response{}, fmt.Errorf("no nencds service answers hook %q", req.Hook)
		}
		if err := req.Validate(svc); err != nil {
			return nil, cards.Response{}, err
		}
		ev := &hooks.Evaluator{Engine: engine, Resolver: &hooks.Resolver{}, Now: func() time.Time { return now }}
		res, err := ev.Run(ctx, req, auth.Client{})
		if err != nil {
			return nil, cards.Response{}, err
		}
		return res.Picture, res.Response, nil
	case probe.ResourceType != "":
		if patientID == "" {
			patientID = hooks.PatientIDOf(data)
		}
		if patientID == "" {
			return nil, cards.Response{}, errors.New("no Patient in the document: give -patient ID")
		}
		return hooks.EvaluatePicture(engine, fhirmap.Input{PatientID: patientID, At: now, Documents: []json.RawMessage{data}})
	}
	return nil, cards.Response{}, errors.New("the file is neither a CDS Hooks request (no hook) nor a FHIR resource (no resourceType)")
}
