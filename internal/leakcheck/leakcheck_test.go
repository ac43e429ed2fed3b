package leakcheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFind(t *testing.T) {
	t.Parallel()
	s := &Set{}
	s.Add(KindPatientID, Token, "p1")
	s.Add(KindAccessToken, Substring, "secret-token")
	s.Add(KindText, Substring, "Ki-67 proliferation index")
	tests := []struct {
		name string
		text string
		want []string // kinds found
	}{
		{name: "clean", text: `{"msg":"request","route":"/cds-services/:id","cards":3,"p10":1,"xp1":2}`},
		{name: "patient id as a token", text: `{"msg":"x","patient":"p1"}`, want: []string{KindPatientID}},
		{name: "patient id in a path", text: `GET /fhir/Condition?patient=p1&x`, want: []string{KindPatientID}},
		{name: "id inside a longer token is not it", text: `"hookInstance":"p1-abc"`},
		{name: "token inside a word", text: `Authorization: Bearer xsecret-tokenx`, want: []string{KindAccessToken}},
		{name: "resource text", text: `note=Ki-67 proliferation index 12%`, want: []string{KindText}},
		{name: "JWT", text: `token eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.sig`, want: []string{"JWT"}},
		{name: "several", text: `p1 secret-token`, want: []string{KindAccessToken, KindPatientID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, l := range s.Find(tt.text) {
				got = append(got, l.Kind)
				if !strings.Contains(l.String(), l.Value) {
					t.Errorf("report %q lacks the value", l.String())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromTestdata(t *testing.T) {
	t.Parallel()
	s, err := FromTestdata("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{KindPatientID, KindResourceID, KindName, KindBirthDate, KindText} {
		if s.Count(kind) == 0 {
			t.Errorf("no %s collected", kind)
		}
	}
	// The main fixture's patient, name and birth date are sentinels.
	for _, v := range []string{"net-g2-metastatic", "Alex", "1962-04-17"} {
		if len(s.Find(fmt.Sprintf(`{"x":%q}`, v))) == 0 {
			t.Errorf("%q is not a sentinel", v)
		}
	}
	if _, err := FromTestdata(t.TempDir()); err == nil {
		t.Error("an empty directory gave no error")
	}
}

func TestCapture(t *testing.T) {
	t.Parallel()
	var c Capture
	done := make(chan bool)
	for i := 0; i < 4; i++ {
		go func() { fmt.Fprintf(&c, "line %d\n", i); done <- true }()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	if got := strings.Count(c.String(), "\n"); got != 4 || c.Len() == 0 {
		t.Errorf("%d lines: %q", got, c.String())
	}
}
