package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/internal/security"
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
	if err := validateRules(rc, c.rulesMode()); err != nil {
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

// rulesMode is the mode the rules configuration is checked under: the server's, or
// development for a local `nencds eval`.
func (c *Config) rulesMode() security.Mode {
	if c.evalLocal {
		return security.Development()
	}
	return c.Mode()
}

// validateRules checks rc (cards.Config.Validate: ranges and well-formed URLs) and the
// deployment policy on top: the SMART app must be served over https unless the mode
// allows http links.
func validateRules(rc cards.Config, m security.Mode) error {
	err := rc.Validate()
	if rc.SMARTAppURL != "" && !m.HTTPLinks() && !absURL(rc.SMARTAppURL, true) {
		err = errors.Join(err, errors.New("smartAppUrl must be an absolute https URL (http allowed with -dev)"))
	}
	return err
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
