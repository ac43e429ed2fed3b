package cards

import "github.com/nencds/nencds/fhirmap"

// sanitize is the rules' own guard for safety principle 4 ("never act on
// entered-in-error or refuted data; never quote it"). fhirmap already leaves such data
// out of the Picture with a note that does not quote it; should a fact still carry an
// entered-in-error or cancelled status, or a Condition a refuted or entered-in-error
// verification status, the rules drop it here before any rule sees it. The Picture
// given by the caller is never modified; a copy is made only when something is dropped.
func sanitize(p *fhirmap.Picture) *fhirmap.Picture {
	if p == nil || clean(p) {
		return p
	}
	q := *p
	q.Diagnoses = keep(p.Diagnoses, func(d fhirmap.Diagnosis) bool { return usableCondition(d.ConditionFact) })
	q.Secondaries = keep(p.Secondaries, func(d fhirmap.Secondary) bool { return usableCondition(d.ConditionFact) })
	q.CarcinoidSyndrome = keep(p.CarcinoidSyndrome, usableCondition)
	q.Ki67 = keep(p.Ki67, func(x fhirmap.Ki67) bool { return usable(x.Source) })
	q.Mitoses = keep(p.Mitoses, func(x fhirmap.MitoticCount) bool { return usable(x.Source) })
	q.GradeLabels = keep(p.GradeLabels, func(x fhirmap.GradeLabel) bool { return usable(x.Source) })
	q.Morphologies = keep(p.Morphologies, func(x fhirmap.Morphology) bool { return usable(x.Source) })
	q.Differentiation = keep(p.Differentiation, func(x fhirmap.DifferentiationFact) bool { return usable(x.Source) })
	q.TNM = keep(p.TNM, func(x fhirmap.TNM) bool { return usable(x.Source) })
	q.Unresectable = keep(p.Unresectable, func(x fhirmap.Statement) bool { return usable(x.Source) })
	q.SSTR = keep(p.SSTR, func(x fhirmap.SSTRImaging) bool { return usable(x.Source) })
	q.CrossSections = keep(p.CrossSections, func(x fhirmap.ImagingStudy) bool { return usable(x.Source) })
	q.Markers = keep(p.Markers, func(x fhirmap.Marker) bool { return usable(x.Source) })
	q.LVEF = keep(p.LVEF, func(x fhirmap.LVEF) bool { return usable(x.Source) })
	q.LiverTests = keep(p.LiverTests, func(x fhirmap.LabResult) bool { return usable(x.Source) })
	q.MetabolicTests = keep(p.MetabolicTests, func(x fhirmap.LabResult) bool { return usable(x.Source) })
	q.Performance = keep(p.Performance, func(x fhirmap.Performance) bool { return usable(x.Source) })
	q.DiseaseStatus = keep(p.DiseaseStatus, func(x fhirmap.DiseaseStatus) bool { return usable(x.Source) })
	q.Therapies = keep(p.Therapies, func(x fhirmap.Therapy) bool { return usable(x.Source) })
	q.Procedures = keep(p.Procedures, func(x fhirmap.Procedure) bool { return usable(x.Source) })
	q.OpenOrders = keep(p.OpenOrders, func(x fhirmap.OpenOrder) bool { return usable(x.Source) })
	// The extent was derived from the secondaries and TNM: if one of its pieces of
	// evidence was dropped, it is no longer known.
	for _, ref := range p.Extent.Evidence {
		if dropped(p, ref) {
			q.Extent = fhirmap.Extent{Status: fhirmap.ExtentUnknown}
			break
		}
	}
	return &q
}

func usable(s fhirmap.Source) bool {
	switch s.Status {
	case "entered-in-error", "cancelled":
		return false
	}
	return true
}

func usableCondition(c fhirmap.ConditionFact) bool {
	switch c.VerificationStatus {
	case "refuted", "entered-in-error":
		return false
	}
	return usable(c.Source)
}

// keep returns xs without the items ok rejects (xs itself when it rejects none).
func keep[T any](xs []T, ok func(T) bool) []T {
	if all(xs, ok) {
		return xs
	}
	var out []T
	for _, x := range xs {
		if ok(x) {
			out = append(out, x)
		}
	}
	return out
}

// clean reports that nothing in p needs dropping (the usual case: no copy, no
// allocation).
func clean(p *fhirmap.Picture) bool {
	return all(p.Diagnoses, func(d fhirmap.Diagnosis) bool { return usableCondition(d.ConditionFact) }) &&
		all(p.Secondaries, func(d fhirmap.Secondary) bool { return usableCondition(d.ConditionFact) }) &&
		all(p.CarcinoidSyndrome, usableCondition) &&
		all(p.Ki67, func(x fhirmap.Ki67) bool { return usable(x.Source) }) &&
		all(p.Mitoses, func(x fhirmap.MitoticCount) bool { return usable(x.Source) }) &&
		all(p.GradeLabels, func(x fhirmap.GradeLabel) bool { return usable(x.Source) }) &&
		all(p.Morphologies, func(x fhirmap.Morphology) bool { return usable(x.Source) }) &&
		all(p.Differentiation, func(x fhirmap.DifferentiationFact) bool { return usable(x.Source) }) &&
		all(p.TNM, func(x fhirmap.TNM) bool { return usable(x.Source) }) &&
		all(p.Unresectable, func(x fhirmap.Statement) bool { return usable(x.Source) }) &&
		all(p.SSTR, func(x fhirmap.SSTRImaging) bool { return usable(x.Source) }) &&
		all(p.CrossSections, func(x fhirmap.ImagingStudy) bool { return usable(x.Source) }) &&
		all(p.Markers, func(x fhirmap.Marker) bool { return usable(x.Source) }) &&
		all(p.LVEF, func(x fhirmap.LVEF) bool { return usable(x.Source) }) &&
		all(p.LiverTests, func(x fhirmap.LabResult) bool { return usable(x.Source) }) &&
		all(p.MetabolicTests, func(x fhirmap.LabResult) bool { return usable(x.Source) }) &&
		all(p.Performance, func(x fhirmap.Performance) bool { return usable(x.Source) }) &&
		all(p.DiseaseStatus, func(x fhirmap.DiseaseStatus) bool { return usable(x.Source) }) &&
		all(p.Therapies, func(x fhirmap.Therapy) bool { return usable(x.Source) }) &&
		all(p.Procedures, func(x fhirmap.Procedure) bool { return usable(x.Source) }) &&
		all(p.OpenOrders, func(x fhirmap.OpenOrder) bool { return usable(x.Source) })
}

func all[T any](xs []T, ok func(T) bool) bool {
	for _, x := range xs {
		if !ok(x) {
			return false
		}
	}
	return true
}

// dropped reports whether the fact with reference ref is one sanitize drops.
func dropped(p *fhirmap.Picture, ref string) bool {
	for _, s := range p.Secondaries {
		if s.Ref == ref && !usableCondition(s.ConditionFact) {
			return true
		}
	}
	for _, t := range p.TNM {
		if t.Ref == ref && !usable(t.Source) {
			return true
		}
	}
	for _, u := range p.Unresectable {
		if u.Ref == ref && !usable(u.Source) {
			return true
		}
	}
	return false
}
