package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/nencds/nencds/cards"
)

// maxRulesFile caps the size of a -rules-config file.
const maxRulesFile = 1 << 20

// rulesConfig returns the cards.Config of c: cards.DefaultConfig(), then the fields of the
// -rules-config file (strict JSON: an unknown field, a wrong type or trailing data is an
// error; absent fields keep their default), then -max-cards and -smart-app-url when they
// were set (flag or environment). The result is validated.
func (c *Config) rulesConfig() (cards.Config, error) {
	rc := cards.DefaultConfig()
	if c.RulesConfig != "" {
		f, err := os.Open(c.RulesConfig)
		if err != nil {
			return rc, fmt.Errorf("rules config: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxRulesFile+1))
		if err != nil {
			return rc, fmt.Errorf("rules config: %w", err)
		}
		if len(data) > maxRulesFile {
			return rc, fmt.Errorf("rules config %s: larger than %d bytes", c.RulesConfig, maxRulesFile)
		}
		if err := decodeRules(data, &rc); err != nil {
			return rc, fmt.Errorf("rules config %s: %w", c.RulesConfig, err)
		}
	}
	if c.set["max-cards"] {
		rc.MaxCards = c.MaxCards
	}
	if c.set["smart-app-url"] {
		rc.SMARTAppURL = c.SMARTAppURL
	}
	if err := validateRules(rc, c.Dev); err != nil {
		if c.RulesConfig != "" {
			return rc, fmt.Errorf("rules config %s: %w", c.RulesConfig, err)
		}
		return rc, fmt.Errorf("rules config: %w", err)
	}
	return rc, nil
}

// decodeRules decodes one JSON object over rc, refusing unknown fields and trailing data.
func decodeRules(data []byte, rc *cards.Config) error {
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(rc); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// validateRules checks the ranges of a rules configuration; errors name the JSON field.
func validateRules(rc cards.Config, dev bool) error {
	var errs []error
	check := func(ok bool, field, rule string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s %s", field, rule))
		}
	}
	check(rc.MaxCards >= 0, "maxCards", "must be 0 (no cap) or more")
	if rc.SMARTAppURL != "" {
		check(absURL(rc.SMARTAppURL, !dev), "smartAppUrl", "must be an absolute https URL (http allowed with -dev)")
	}
	check(rc.ElderlyAge >= 18 && rc.ElderlyAge <= 120, "elderlyAge", "must be 18 to 120")
	for _, e := range []struct {
		name string
		v    int
	}{
		{"ecogSurgeryMax", rc.ECOGSurgeryMax}, {"ecogChemoMax", rc.ECOGChemoMax},
		{"ecogCarboplatinPreferred", rc.ECOGCarboplatinPreferred}, {"ecogOutsideAlgorithm", rc.ECOGOutsideAlgorithm},
	} {
		check(e.v >= 0 && e.v <= 5, e.name, "must be an ECOG score, 0 to 5")
	}
	for _, p := range []struct {
		name string
		v    int
	}{
		{"progressionWindowMonths", rc.ProgressionWindowMonths},
		{"recent.chromograninADays", rc.Recent.ChromograninADays},
		{"recent.fiveHIAADays", rc.Recent.FiveHIAADays},
		{"recent.crossSectionalDays", rc.Recent.CrossSectionalDays},
		{"recent.sstrImagingDays", rc.Recent.SSTRImagingDays},
		{"recent.lvefBaselineDays", rc.Recent.LVEFBaselineDays},
		{"cycleDaysChemo", rc.CycleDaysChemo}, {"cycleDaysOral", rc.CycleDaysOral},
		{"followUpMonths", rc.FollowUpMonths}, {"imagingMonths", rc.ImagingMonths},
		{"taskRepetitions", rc.TaskRepetitions},
	} {
		check(p.v > 0 && p.v <= 3650, p.name, "must be 1 to 3650")
	}
	check(rc.LVEFLowerLimit > 0 && rc.LVEFLowerLimit < 100, "lvefLowerLimit", "must be a percentage between 0 and 100")
	check(rc.LVEFRelativeDrop > 0 && rc.LVEFRelativeDrop < 1, "lvefRelativeDrop", "must be a fraction between 0 and 1")
	for _, g := range []struct {
		name string
		g    cards.Guideline
	}{
		{"esmo", rc.Guidelines.ESMO}, {"enets", rc.Guidelines.ENETS}, {"who", rc.Guidelines.WHO},
		{"nccn", rc.Guidelines.NCCN}, {"sutent", rc.Guidelines.Sutent}, {"afinitor", rc.Guidelines.Afinitor},
		{"lutathera", rc.Guidelines.Lutathera},
	} {
		check(strings.TrimSpace(g.g.Label) != "", "guidelines."+g.name+".label", "is required")
		check(absURL(g.g.URL, true), "guidelines."+g.name+".url", "must be an absolute https URL")
	}
	return errors.Join(errs...)
}

// absURL reports whether s is an absolute http(s) URL with a host (https only when
// httpsOnly).
func absURL(s string, httpsOnly bool) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "https" || (!httpsOnly && u.Scheme == "http")
}
