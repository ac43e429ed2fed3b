package security

import (
	"net"
	"strings"
)

// IsLoopback reports whether host (a URL's Hostname, without port or brackets) names the
// local machine: "localhost" in any case, or a loopback IP address (127.0.0.0/8, ::1).
// The trust file, the FHIR read policy and the SMART app share it, so that they agree on
// what the development relaxation for loopback http covers.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
