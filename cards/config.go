package cards

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Config holds the local policy: every threshold, window and limit that a site may
// set differently, with the defaults of DefaultConfig documented on each field.
// Rules read only Config and the Picture; nothing here is read from the environment.
type Config struct {
	// MaxCards caps the number of cards returned, after ordering critical, warning,
	// info (0: no cap). Default 10.
	MaxCards int `json:"maxCards"`
	// SMARTAppURL, when set, adds a "smart" link to every card whose appContext names
	// the topic code and the facts the card used. Default "" (no smart link).
	SMARTAppURL string `json:"smartAppUrl,omitempty"`

	// ElderlyAge: from this age (years, at the evaluation time) carboplatin rather than
	// cisplatin is the recommended partner of etoposide (nec-first-line). Default 70.
	ElderlyAge int `json:"elderlyAge"`
	// ECOGSurgeryMax: the highest ECOG score counted as fit for surgery (nen-surgery).
	// Default 1.
	ECOGSurgeryMax int `json:"ecogSurgeryMax"`
	// ECOGChemoMax: the highest ECOG score for which platinum–etoposide is suggested
	// (nec-first-line, nec-later-line). Default 2.
	ECOGChemoMax int `json:"ecogChemoMax"`
	// ECOGCarboplatinPreferred: from this ECOG score carboplatin is the recommended
	// platinum (nec-first-line). Default 2.
	ECOGCarboplatinPreferred int `json:"ecogCarboplatinPreferred"`
	// ECOGOutsideAlgorithm: a NEC with ECOG at or above this score goes to MDT review
	// (nen-outside-algorithm) instead of chemotherapy cards. Default 3.
	ECOGOutsideAlgorithm int `json:"ecogOutsideAlgorithm"`

	// ProgressionWindowMonths: a "worsened" cancer disease status counts as progression
	// when it is at most this many months before the evaluation time. Default 6.
	ProgressionWindowMonths int `json:"progressionWindowMonths"`

	// Recent is how long a result stays "recent": a result within its window suppresses
	// a suggestion to order the same test again.
	Recent RecentWindows `json:"recent"`

	// CycleDaysChemo is the cycle length of intravenous chemotherapy (platinum–etoposide,
	// FOLFIRI): hepatic panel due each cycle. Default 21.
	CycleDaysChemo int `json:"cycleDaysChemo"`
	// CycleDaysOral is the cycle length of oral targeted therapy and CAPTEM (sunitinib,
	// everolimus, temozolomide, capecitabine). Default 28.
	CycleDaysOral int `json:"cycleDaysOral"`
	// FollowUpMonths is the interval of follow-up visits on active treatment. Default 3.
	FollowUpMonths int `json:"followUpMonths"`
	// ImagingMonths is the interval of cross-sectional imaging (CT or MRI) on active
	// treatment. Default 6.
	ImagingMonths int `json:"imagingMonths"`
	// TaskHorizonMonths is how far ahead a recurring monitoring Task plans: its
	// restriction.period spans the whole occurrences of its interval that fit in this
	// horizon, and restriction.repetitions counts them (every 3 months for 12 months: 4
	// repetitions in a 12-month period; every 28 days: 13 in 364 days). Default 12.
	TaskHorizonMonths int `json:"taskHorizonMonths"`

	// LVEFLowerLimit: an LVEF below this percentage counts as reduced (monitor-cardiac).
	// Default 50.
	LVEFLowerLimit float64 `json:"lvefLowerLimit"`
	// LVEFRelativeDrop: a relative fall from baseline of at least this fraction, with an
	// LVEF below LVEFLowerLimit, makes monitor-cardiac critical. Default 0.20.
	LVEFRelativeDrop float64 `json:"lvefRelativeDrop"`

	// Guidelines are the labels and URLs cited by the cards.
	Guidelines Guidelines `json:"guidelines"`
}

// RecentWindows are the "recent result" windows per test, in days.
type RecentWindows struct {
	// WorkupBeforeDiagnosisDays: a work-up item (chromogranin A, 5-HIAA, contrast CT or
	// MRI, SSTR imaging) is done when a result exists from this many days before the
	// NEN diagnosis onwards, whatever its age now (nen-workup is the baseline at
	// diagnosis; surveillance is followup-schedule's). Default 90.
	WorkupBeforeDiagnosisDays int `json:"workupBeforeDiagnosisDays"`
	// CrossSectionalDays: contrast CT or MRI recent enough to hold back the work-up of a
	// suspected NEN (nen-suspected). Default 90.
	CrossSectionalDays int `json:"crossSectionalDays"`
	// SSTRImagingDays: SSTR imaging recent enough to hold back the work-up of a
	// suspected NEN (nen-suspected). Default 365.
	SSTRImagingDays int `json:"sstrImagingDays"`
	// LVEFBaselineDays: an LVEF at most this many days before the start of sunitinib
	// (or any time after it) counts as its baseline. Default 90.
	LVEFBaselineDays int `json:"lvefBaselineDays"`
}

// Guideline is a cited source: the label shown on a card and its URL.
type Guideline struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Guidelines are the sources the rules cite (docs/clinical.md §6).
type Guidelines struct {
	ESMO      Guideline `json:"esmo"`      // ESMO 2020 GEP-NEN
	ENETS     Guideline `json:"enets"`     // ENETS 2023 NEC guidance
	WHO       Guideline `json:"who"`       // WHO 2019 / Rindi 2018 classification
	NCCN      Guideline `json:"nccn"`      // NCCN Neuroendocrine and Adrenal Tumors
	Sutent    Guideline `json:"sutent"`    // SUTENT US prescribing information
	Afinitor  Guideline `json:"afinitor"`  // AFINITOR US prescribing information
	Lutathera Guideline `json:"lutathera"` // LUTATHERA US prescribing information
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxCards:                 10,
		ElderlyAge:               70,
		ECOGSurgeryMax:           1,
		ECOGChemoMax:             2,
		ECOGCarboplatinPreferred: 2,
		ECOGOutsideAlgorithm:     3,
		ProgressionWindowMonths:  6,
		Recent: RecentWindows{
			WorkupBeforeDiagnosisDays: 90,
			CrossSectionalDays:        90,
			SSTRImagingDays:           365,
			LVEFBaselineDays:          90,
		},
		CycleDaysChemo:    21,
		CycleDaysOral:     28,
		FollowUpMonths:    3,
		ImagingMonths:     6,
		TaskHorizonMonths: 12,
		LVEFLowerLimit:    50,
		LVEFRelativeDrop:  0.20,
		Guidelines: Guidelines{
			ESMO:      Guideline{"ESMO 2020 GEP-NEN guideline (Pavel et al., Ann Oncol 2020)", "https://doi.org/10.1016/j.annonc.2020.03.304"},
			ENETS:     Guideline{"ENETS 2023 guidance, digestive NEC (Sorbye et al.)", "https://doi.org/10.1111/jne.13249"},
			WHO:       Guideline{"WHO 2019 classification of digestive NEN (Rindi et al. 2018)", "https://doi.org/10.1038/s41379-018-0110-y"},
			NCCN:      Guideline{"NCCN Guidelines, Neuroendocrine and Adrenal Tumors", "https://www.nccn.org/guidelines"},
			Sutent:    Guideline{"SUTENT (sunitinib) US prescribing information", "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=sutent"},
			Afinitor:  Guideline{"AFINITOR (everolimus) US prescribing information", "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=afinitor"},
			Lutathera: Guideline{"LUTATHERA (lutetium Lu 177 dotatate) US prescribing information", "https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=lutathera"},
		},
	}
}

// Validate checks the ranges of c; each error names the JSON field. A SMART app URL
// must be an absolute http(s) URL (the binary requires https outside -dev).
func (rc Config) Validate() error {
	var errs []error
	check := func(ok bool, field, rule string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s %s", field, rule))
		}
	}
	check(rc.MaxCards >= 0, "maxCards", "must be 0 (no cap) or more")
	if rc.SMARTAppURL != "" {
		check(absURL(rc.SMARTAppURL, false), "smartAppUrl", "must be an absolute http(s) URL")
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
		{"recent.workupBeforeDiagnosisDays", rc.Recent.WorkupBeforeDiagnosisDays},
		{"recent.crossSectionalDays", rc.Recent.CrossSectionalDays},
		{"recent.sstrImagingDays", rc.Recent.SSTRImagingDays},
		{"recent.lvefBaselineDays", rc.Recent.LVEFBaselineDays},
		{"cycleDaysChemo", rc.CycleDaysChemo}, {"cycleDaysOral", rc.CycleDaysOral},
		{"followUpMonths", rc.FollowUpMonths}, {"imagingMonths", rc.ImagingMonths},
		{"taskHorizonMonths", rc.TaskHorizonMonths},
	} {
		check(p.v > 0 && p.v <= 3650, p.name, "must be 1 to 3650")
	}
	check(rc.LVEFLowerLimit > 0 && rc.LVEFLowerLimit < 100, "lvefLowerLimit", "must be a percentage between 0 and 100")
	check(rc.LVEFRelativeDrop > 0 && rc.LVEFRelativeDrop < 1, "lvefRelativeDrop", "must be a fraction between 0 and 1")
	for _, g := range []struct {
		name string
		g    Guideline
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
