package cards

import "github.com/nencds/nencds/fhirmap"

// scenario is a named Picture used by the rule table tests, the golden tests and the
// resource checks.
type scenario struct {
	name string
	p    *fhirmap.Picture
	want []string // topic codes, in response order
}

func scenarios() []scenario {
	return []scenario{
		{"no-nen", picture(), []string{}},
		{"pnet-g2-liver-progressive-sstr-positive", picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2025, 11, 1)), liverMets(), progression(day(2026, 4, 1)), sstr(fhirmap.SSTRPositive, 3), workupDone(), ecog(0)),
			[]string{TopicPNETTargeted, TopicSummary, TopicLiverMetsSurgery, TopicSSA, TopicPRRT, TopicLiverDirected}},
		{"si-net-g1-limited", picture(smallBowelNET(), ki67(2, "Observation/ki67", day(2025, 11, 1)), limited(), workupDone()),
			[]string{TopicSummary, TopicSurgery}},
		{"si-net-g2-syndrome-bone", picture(smallBowelNET(), ki67(5, "Observation/ki67", day(2025, 11, 1)), boneMets(), syndrome(), workupDone()),
			[]string{TopicSummary, TopicSSA, TopicBoneEBRT}},
		{"nec-first-line", picture(necDiag(), ki67(70, "Observation/ki67", day(2026, 4, 20)), ecog(1)),
			[]string{TopicNECFirstLine, TopicSummary, TopicWorkup}},
		{"nec-first-line-elderly", picture(necDiag(), ki67(70, "Observation/ki67", day(2026, 4, 20)), age(74), workupDone()),
			[]string{TopicNECFirstLine, TopicSummary}},
		{"nec-later-line", picture(necDiag(), ki67(80, "Observation/ki67", day(2025, 10, 1)), therapy("carboplatin", false, day(2025, 11, 1)), therapy("etoposide", false, day(2025, 11, 1)), progression(day(2026, 5, 1)), ecog(1), workupDone()),
			[]string{TopicNECLaterLine, TopicSummary}},
		{"nec-ecog-3", picture(necDiag(), ki67(70, "Observation/ki67", day(2026, 4, 20)), ecog(3), workupDone()),
			[]string{TopicOutsideAlgorithm, TopicSummary}},
		{"ki67-high-no-differentiation", picture(nenNoDiff(fhirmap.SitePancreas), ki67(35, "Observation/ki67", day(2026, 3, 1)), liverMets(), progression(day(2026, 4, 1)), sstr(fhirmap.SSTRPositive, 3), workupDone()),
			[]string{TopicClassificationIncomplete, TopicSummary}},
		{"no-grade-on-record", picture(smallBowelNET(), workupDone()),
			[]string{TopicClassificationIncomplete, TopicSummary}},
		{"net-g3-discordant", picture(smallBowelNET(), ki67(35, "Observation/ki67-2026", day(2026, 3, 1)), ki67(8, "Observation/ki67-2021", day(2021, 2, 1)), workupDone()),
			[]string{TopicGradeDiscordance, TopicOutsideAlgorithm, TopicSummary}},
		{"minen", picture(diag("morph-minen", fhirmap.SiteColon, fhirmap.DiffUnknown, "C7A.8"), morphology("8154/3", fhirmap.DiffUnknown), ki67(40, "Observation/ki67", day(2026, 3, 1)), workupDone()),
			[]string{TopicOutsideAlgorithm, TopicSummary}},
		{"lung-carcinoid", picture(diag("nen-lung", fhirmap.SiteLung, fhirmap.DiffWell, "C7A.090"), ki67(4, "Observation/ki67", day(2026, 3, 1)), workupDone()),
			[]string{TopicOutsideAlgorithm, TopicSummary}},
		{"sunitinib-lvef-decline", picture(pancreaticNET(), ki67(12, "Observation/ki67", day(2025, 6, 1)), liverMets(), workupDone(),
			therapy("sunitinib", true, day(2026, 1, 10)), lvef(44, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5))),
			[]string{TopicMonitorCardiac, TopicMonitorHepatic, TopicSummary, TopicLiverMetsSurgery, TopicLiverDirected, TopicFollowUp}},
		{"sunitinib-no-baseline-lvef", picture(pancreaticNET(), ki67(12, "Observation/ki67", day(2025, 6, 1)), liverMets(), workupDone(), liverPanel(day(2026, 5, 25)),
			therapy("sunitinib", true, day(2026, 1, 10)), openOrder("Task", OrderSystem, OrderFollowUpVisit)),
			[]string{TopicMonitorCardiac, TopicSummary, TopicLiverMetsSurgery, TopicLiverDirected}},
		{"nen-suspected", picture(syndrome(), marker(fhirmap.Marker5HIAAUrine, "yes", day(2026, 5, 1))),
			[]string{TopicSuspected}},
	}
}
