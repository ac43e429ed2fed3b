package cards

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes a readable report of a response for reviewers (nencds eval -text):
// each card with its indicator, topic, summary, source, detail, and its suggestions
// with their actions and the resource each action would create.
func WriteText(w io.Writer, r Response) error {
	bw := bufio.NewWriter(w)
	if len(r.Cards) == 0 {
		fmt.Fprintln(bw, "No cards.")
		return bw.Flush()
	}
	for i, c := range r.Cards {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "=== Card %d of %d: [%s] %s\n", i+1, len(r.Cards), strings.ToUpper(string(c.Indicator)), c.Summary)
		if c.Source.Topic != nil {
			fmt.Fprintf(bw, "Topic: %s\n", c.Source.Topic.Code)
		}
		fmt.Fprintf(bw, "Source: %s", c.Source.Label)
		if c.Source.URL != "" {
			fmt.Fprintf(bw, " <%s>", c.Source.URL)
		}
		fmt.Fprintln(bw)
		if c.Detail != "" {
			fmt.Fprintln(bw)
			for _, line := range strings.Split(c.Detail, "\n") {
				fmt.Fprintf(bw, "  %s\n", line)
			}
		}
		if len(c.Suggestions) > 0 {
			fmt.Fprintf(bw, "\nSuggestions (%s):\n", c.SelectionBehavior)
			for j, s := range c.Suggestions {
				rec := ""
				if s.IsRecommended {
					rec = " (recommended)"
				}
				fmt.Fprintf(bw, "  %d. %s%s\n", j+1, s.Label, rec)
				for _, a := range s.Actions {
					fmt.Fprintf(bw, "     - %s: %s\n", a.Type, a.Description)
					if len(a.Resource) > 0 {
						fmt.Fprintf(bw, "       %s\n", resourceLine(a.Resource))
					}
				}
			}
		}
		for _, l := range c.Links {
			fmt.Fprintf(bw, "Link (%s): %s <%s>\n", l.Type, l.Label, l.URL)
		}
	}
	return bw.Flush()
}

// resourceLine is a one-line description of a draft resource: type, status, intent
// and what it names.
func resourceLine(raw json.RawMessage) string {
	var r struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Intent       string `json:"intent"`
		Medication   *struct {
			Text string `json:"text"`
		} `json:"medicationCodeableConcept"`
		Code *struct {
			Coding []struct{ System, Code string } `json:"coding"`
			Text   string                          `json:"text"`
		} `json:"code"`
		Dosage []struct {
			Text string `json:"text"`
		} `json:"dosageInstruction"`
		Restriction *struct {
			Repetitions int `json:"repetitions"`
			Period      *struct {
				Start, End string
			} `json:"period"`
		} `json:"restriction"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return "(unreadable resource)"
	}
	parts := []string{r.ResourceType, r.Status + "/" + r.Intent}
	if r.Medication != nil {
		parts = append(parts, r.Medication.Text)
	}
	for _, d := range r.Dosage {
		parts = append(parts, "dosage: "+d.Text)
	}
	if r.Code != nil {
		var codes []string
		for _, c := range r.Code.Coding {
			codes = append(codes, c.Code)
		}
		s := r.Code.Text
		if len(codes) > 0 {
			s += " [" + strings.Join(codes, ", ") + "]"
		}
		parts = append(parts, strings.TrimSpace(s))
	}
	if r.Restriction != nil {
		if r.Restriction.Period != nil {
			parts = append(parts, "due "+r.Restriction.Period.Start+" to "+r.Restriction.Period.End)
		}
		if r.Restriction.Repetitions > 0 {
			parts = append(parts, fmt.Sprintf("%d repetitions", r.Restriction.Repetitions))
		}
	}
	return strings.Join(parts, " · ")
}
