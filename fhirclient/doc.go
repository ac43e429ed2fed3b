// Package fhirclient is the FHIR R4 read client of nencds and its SSRF policy: which FHIR
// server may be read (Policy: a base listed for the client, https; loopback http only in
// dev), a dial guard that refuses link-local, metadata, unspecified and multicast
// addresses after DNS (Transport), and a Client that reads search pages and resources
// only under the allowed base, with per-request deadlines and size and page caps.
//
// It is infrastructure beside the domain: both adapters (hooks, the CDS Hooks prefetch
// fallback, and app, the SMART app) import it; it imports neither, nor Gin.
package fhirclient
