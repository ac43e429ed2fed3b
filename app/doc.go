// Package app is the SMART on FHIR app of nencds, served under /app/: the second adapter
// beside hooks (it never imports hooks). An EHR launches it (SMART App Launch 2.0, EHR
// launch or standalone, authorization code with PKCE S256) from a card's smart link; it
// reads the patient's record with the issued token through fhirclient (the same client,
// SSRF policy and deadlines as the hooks fallback), maps it with fhirmap, evaluates the
// same cards.Engine, and renders one server-side page (html/template, assets embedded):
// the clinical picture, a timeline and the algorithm as inline SVG, and the cards.
//
// The access token stays on the server, in a short-lived session named by an HttpOnly,
// SameSite=Lax cookie (Secure outside dev); it never reaches the browser. Every failure
// (denied, bad state, token exchange, FHIR 401) is a plain page without internals.
package app
