// Package hooks is the CDS Hooks 2.0 adapter of nencds: the only package (with cmd) that
// knows HTTP and Gin. It serves discovery, the patient-view service and feedback; decodes
// requests strictly; resolves every prefetch key (present, null, or fetched from the
// client's FHIR server under the SSRF rules of the FHIR fallback); hands the documents to
// fhirmap.Map and the Picture to cards.Engine.Evaluate; and renders every failure, from
// one error vocabulary, as a FHIR OperationOutcome with the CDS Hooks status.
//
// The path of one request: Gin route → recovery → CORS → concurrency limit → client
// authentication (aud = the endpoint's public URL) → strict decoding (DecodeRequest) →
// validation (Request.Validate) → prefetch resolution (Resolver) → Evaluator.Run
// (fhirmap.Map, then cards.Engine.Evaluate) → JSON rendered to a buffer, then written.
package hooks
